"""Talking to the GitHub Actions runner: workflow commands, annotations, masks, log groups,
outputs and the job summary (commands.py), what must be masked (masking.py), whether the
step runs in a job container (job_container.py), and the step before the build that plans the
GitHub Actions cache's restore and save (gha_cache.py)."""
