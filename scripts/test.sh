#!/usr/bin/env bash
# The project's test command: set up, run every static check, then the whole test suite
# (unit tests, end-to-end builds with the real executors, workflow runs through act).
# Extra arguments go to pytest.
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
VENV="${KANIKO_BUILD_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/kaniko-build/venv}"
export PATH="$VENV/bin:$PATH"

bash scripts/lint.sh
python -m pytest "$@"
