"""What a Dockerfile does on each target platform (stages.py), the plan for a build
(plan.py), pinning `FROM --platform=...` bases by digest (pins.py), and whether the runner can
run another architecture's RUN steps (emulation.py, binfmt.py)."""
