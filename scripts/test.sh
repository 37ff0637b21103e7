#!/usr/bin/env bash
# The project's test command: set up, run every static check, then the whole test suite
# (unit tests, end-to-end builds with the real executors, workflow runs through act), and the
# unit tests once more on Python 3.9, the runtime's floor, when such an interpreter exists.
# Extra arguments go to pytest.
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

VENV=$(bash scripts/setup.sh)
export PATH="$VENV/bin:$PATH"

bash scripts/lint.sh
python -m pytest "$@"

python39=""
if python3.9 --version >/dev/null 2>&1; then
  python39=$(command -v python3.9)
else
  python39=$(compgen -G "${PYENV_ROOT:-$HOME/.pyenv}/versions/3.9*/bin/python3.9" | head -n 1 || true)
fi
if [[ -z "$python39" ]]; then
  echo "test: no Python 3.9 interpreter found; the 3.9 unit-test pass did not run" >&2
  exit 0
fi
venv39="$VENV-py39"
if [[ ! -x "$venv39/bin/python" ]] || ! cmp -s requirements-dev.txt "$venv39/.requirements-dev.txt"; then
  "$python39" -m venv --clear "$venv39"
  "$venv39/bin/pip" install -q --disable-pip-version-check -r requirements-dev.txt
  cp requirements-dev.txt "$venv39/.requirements-dev.txt"
fi
"$venv39/bin/python" -m pytest -q -m "not e2e" -p no:cacheprovider
