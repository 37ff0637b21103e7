#!/usr/bin/env bash
# Run every static check of the project and report all failures together.
#
# Usage: scripts/lint.sh
#
# The tools come from requirements-dev.txt (pip install -r requirements-dev.txt)
# and must be on PATH. A missing tool is a failure. A check is skipped only
# when the files it covers do not exist.
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

readonly TOOLS=(ruff mypy actionlint zizmor hadolint shellcheck check-jsonschema)

FAILED=()
PASSED=()
SKIPPED=()

section() {
  printf '\n==> %s\n' "$*"
}

# run LABEL COMMAND [ARG...]
run() {
  local label="$1"
  shift
  section "$label"
  printf '+ %s\n' "$*"
  if "$@"; then
    PASSED+=("$label")
  else
    FAILED+=("$label")
  fi
}

skip() {
  section "$1"
  printf 'skipped: %s\n' "$2"
  SKIPPED+=("$1")
}

check_tools() {
  local tool missing=()
  for tool in "${TOOLS[@]}"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      missing+=("$tool")
    fi
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    printf 'lint: missing tools: %s\n' "${missing[*]}" >&2
    printf 'lint: install them with: pip install -r requirements-dev.txt\n' >&2
    exit 1
  fi
}

main() {
  check_tools

  local python_targets=() workflows=() shell_scripts=() actions=() path

  for path in kaniko_action tests scripts benchmarks entrypoint.py; do
    if [[ -e "$path" ]]; then
      python_targets+=("$path")
    fi
  done

  shopt -s nullglob
  workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
  shell_scripts=(scripts/*.sh ./*.sh)
  shopt -u nullglob
  if [[ -f .ci/run ]]; then
    shell_scripts+=(.ci/run)
  fi
  for path in action.yml action.yaml; do
    if [[ -f "$path" ]]; then
      actions+=("$path")
    fi
  done

  if [[ ${#python_targets[@]} -gt 0 ]]; then
    run "ruff check" ruff check .
    run "ruff format" ruff format --check .
    run "mypy" mypy --strict "${python_targets[@]}"
  else
    skip "ruff check" "no Python sources yet"
    skip "ruff format" "no Python sources yet"
    skip "mypy" "no Python sources yet"
  fi

  if [[ ${#workflows[@]} -gt 0 ]]; then
    run "actionlint" actionlint -no-color "${workflows[@]}"
    run "check-jsonschema workflows" \
      check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}"
  else
    skip "actionlint" "no workflows in .github/workflows"
    skip "check-jsonschema workflows" "no workflows in .github/workflows"
  fi

  if [[ ${#actions[@]} -gt 0 ]]; then
    run "check-jsonschema action" \
      check-jsonschema --builtin-schema vendor.github-actions "${actions[@]}"
  else
    skip "check-jsonschema action" "no action.yml"
  fi

  if [[ $((${#workflows[@]} + ${#actions[@]})) -gt 0 ]]; then
    run "zizmor" zizmor --offline --no-progress --color=never "${workflows[@]}" "${actions[@]}"
  else
    skip "zizmor" "no workflows and no action.yml"
  fi

  if [[ -f Dockerfile ]]; then
    run "hadolint" hadolint --no-color Dockerfile
  else
    skip "hadolint" "no Dockerfile"
  fi

  if [[ ${#shell_scripts[@]} -gt 0 ]]; then
    run "shellcheck" shellcheck "${shell_scripts[@]}"
  else
    skip "shellcheck" "no shell scripts"
  fi

  section "summary"
  printf 'passed:  %s\n' "${PASSED[*]:-none}"
  printf 'skipped: %s\n' "${SKIPPED[*]:-none}"
  printf 'failed:  %s\n' "${FAILED[*]:-none}"
  if [[ ${#FAILED[@]} -gt 0 ]]; then
    exit 1
  fi
}

main "$@"
