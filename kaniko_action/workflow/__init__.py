"""Talking to the GitHub Actions runner: workflow commands, annotations, masks, log groups,
outputs and the job summary (commands.py), and what must be masked (masking.py)."""
