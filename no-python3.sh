#!/usr/bin/env bash
# The action's step runs this instead of entrypoint.py when PATH has no python3: one error
# that says so, and, in a job container (the runner mounts the workspace under /__w there),
# which image to use as the job's container.
where=""
case "${GITHUB_WORKSPACE:-}" in
  /__w/*)
    where=" This job runs its steps in its container (container:, or actions-runner-controller's kubernetes mode): use as the job's container the runner image built from kaniko-build's Dockerfile, which has python3, sudo and /kaniko."
    ;;
esac
echo "::error title=Runner::kaniko-build needs python3 (3.9 or later) on PATH, and this step's PATH has none.${where}"
exit 1
