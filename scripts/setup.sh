#!/usr/bin/env bash
# Install everything the demo and the tests need on a fresh Debian machine (run as root):
# Debian packages, a virtualenv with the pinned tools, and the kaniko executors.
# Idempotent: a second run only checks.
#
# Progress goes to stderr; the last thing printed on stdout is the virtualenv's path, whose
# bin/ holds pytest, ruff, act and the linters.
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
# Everything but the final path goes to stderr.
exec 3>&1 1>&2

readonly PACKAGES=(docker-registry busybox-static debootstrap openssl apache2-utils ca-certificates git golang-go sudo skopeo umoci docker.io buildah)
VENV="${KANIKO_BUILD_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/kaniko-build/venv}"

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [[ " ${missing[*]} " == *" golang-go "* ]] && command -v go >/dev/null 2>&1; then
  # A Go toolchain is already on PATH; Debian's is only a fallback.
  missing=("${missing[@]/golang-go/}")
fi
read -r -a missing <<<"${missing[*]}"
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's docker-registry package starts a registry on :5000 that the tests do not use.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup: creating $VENV" >&2
  python3 -m venv "$VENV"
fi
if ! cmp -s requirements-dev.txt "$VENV/.requirements-dev.txt"; then
  echo "setup: installing requirements-dev.txt" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements-dev.txt
  cp requirements-dev.txt "$VENV/.requirements-dev.txt"
fi

bash scripts/install-executors.sh >/dev/null

# The toolkit library actions/cache is made of, for the tests' offline stand-in of
# actions/cache (tests/support/actions_cache): beside the venv, reinstalled when its lock changes.
NODE_DIR="$(dirname -- "$VENV")/actions-cache"
if ! cmp -s tests/support/actions_cache/package-lock.json "$NODE_DIR/package-lock.json"; then
  echo "setup: installing tests/support/actions_cache's node modules" >&2
  mkdir -p "$NODE_DIR"
  cp tests/support/actions_cache/package.json tests/support/actions_cache/package-lock.json "$NODE_DIR/"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
echo "$VENV" >&3
