#!/usr/bin/env bash
# The main job, end to end on this machine: start a local registry, push a busybox base
# image to it, build example/ with kaniko-build (the real executor, in its chroot), push the
# result and print its digest.
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

VENV=$(bash scripts/setup.sh)
exec "$VENV/bin/python" scripts/demo.py "$@"
