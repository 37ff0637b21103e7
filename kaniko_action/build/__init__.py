"""A build from a BuildSpec to a BuildReport: one image in one sandbox (single.py), or one per
platform and an index over them (multiplatform.py); the steps around the executor run
(hooks.py) and the local layer cache around it (caching.py); the report, the action's outputs
and the orchestrator that ties them (run.py).

Results flow one way: every step returns a frozen value and run.py assembles the report."""
