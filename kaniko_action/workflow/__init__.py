"""Talking to the GitHub Actions runner: workflow commands, annotations, masks, log groups,
outputs and the job summary (commands.py), what must be masked (masking.py), and whether the
step runs in a job container (job_container.py)."""
