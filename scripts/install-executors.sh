#!/usr/bin/env bash
# Build and cache kaniko executors for the test suite.
#
# Each executor is laid out like the /kaniko directory of the official
# executor image:
#
#   <root>/<name>/kaniko/executor
#   <root>/<name>/kaniko/docker-credential-{ecr-login,gcr,acr-env}
#   <root>/<name>/kaniko/ssl/certs/ca-certificates.crt
#   <root>/<name>/kaniko/.docker/
#
# <root> is $KANIKO_BUILD_EXECUTORS, or
# ${XDG_CACHE_HOME:-$HOME/.cache}/kaniko-build/executors by default.
#
# Usage: scripts/install-executors.sh [--force] [NAME...]
#
#   --force  rebuild even when a working executor is already cached
#   NAME     build only these executors (default: all of them)
#
# On success, prints one "name=directory" line per executor on stdout.
# Progress, timings and warnings go to stderr.
#
# Modules are fetched with "go mod download MODULE@VERSION" and built from
# the module cache, because "go install MODULE@VERSION" also asks the proxy
# for the module's version list, which is not always reachable.
# The credential helpers are built inside each kaniko module, so they get
# the versions that kaniko pins in its go.mod, as the official image does.
#
# Never run the executors built here for anything but "executor version":
# outside a throwaway chroot a build wipes the root filesystem.
set -euo pipefail

# name module version
readonly EXECUTORS=(
  "upstream-v1.24.0 github.com/GoogleContainerTools/kaniko v1.24.0"
  "fork-v1.27.5 github.com/osscontainertools/kaniko v1.27.5"
)

# binary module package-in-module
readonly HELPERS=(
  "docker-credential-ecr-login github.com/awslabs/amazon-ecr-credential-helper/ecr-login ./cli/docker-credential-ecr-login"
  "docker-credential-gcr github.com/GoogleCloudPlatform/docker-credential-gcr/v2 ."
  "docker-credential-acr-env github.com/chrismellard/docker-credential-acr-env ."
)

readonly CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

ROOT="${KANIKO_BUILD_EXECUTORS:-${XDG_CACHE_HOME:-$HOME/.cache}/kaniko-build/executors}"
FORCE=0
SELECTED=()
WARNINGS=()
TMP_DIRS=()

log() {
  printf '%s\n' "install-executors: $*" >&2
}

warn() {
  printf '%s\n' "install-executors: WARNING: $*" >&2
  WARNINGS+=("$*")
}

die() {
  printf '%s\n' "install-executors: ERROR: $*" >&2
  exit 1
}

cleanup() {
  local dir
  for dir in "${TMP_DIRS[@]}"; do
    if [[ -n "$dir" && -e "$dir" ]]; then
      chmod -R u+w "$dir" 2>/dev/null || true
      rm -rf -- "$dir"
    fi
  done
}
trap cleanup EXIT

usage() {
  sed -n '15,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

parse_args() {
  local arg
  for arg in "$@"; do
    case "$arg" in
      --force) FORCE=1 ;;
      -h | --help)
        usage
        exit 0
        ;;
      -*)
        usage
        die "unknown option: $arg"
        ;;
      *) SELECTED+=("$arg") ;;
    esac
  done
}

is_selected() {
  local name="$1" wanted
  if [[ ${#SELECTED[@]} -eq 0 ]]; then
    return 0
  fi
  for wanted in "${SELECTED[@]}"; do
    if [[ "$wanted" == "$name" ]]; then
      return 0
    fi
  done
  return 1
}

check_selection() {
  local wanted entry found
  for wanted in "${SELECTED[@]}"; do
    found=0
    for entry in "${EXECUTORS[@]}"; do
      if [[ "${entry%% *}" == "$wanted" ]]; then
        found=1
      fi
    done
    if [[ $found -eq 0 ]]; then
      die "unknown executor name: $wanted"
    fi
  done
}

ensure_ca_bundle() {
  if [[ -s "$CA_BUNDLE" ]]; then
    return 0
  fi
  log "$CA_BUNDLE is missing; installing ca-certificates"
  command -v apt-get >/dev/null 2>&1 ||
    die "$CA_BUNDLE is missing and apt-get is not available; install ca-certificates"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "installing ca-certificates needs root or sudo"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends ca-certificates >&2
  [[ -s "$CA_BUNDLE" ]] || die "$CA_BUNDLE still missing after installing ca-certificates"
}

# Prints the module directory of MODULE@VERSION in the module cache.
module_dir() {
  local spec="$1" json dir
  json=$(go mod download -json "$spec") || {
    printf '%s\n' "$json" >&2
    return 1
  }
  dir=$(sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",\{0,1\}[[:space:]]*$/\1/p' <<<"$json")
  if [[ -z "$dir" || ! -d "$dir" ]]; then
    printf '%s\n' "$json" >&2
    return 1
  fi
  printf '%s\n' "$dir"
}

# Succeeds when DIR holds a complete layout with a runnable executor.
executor_ok() {
  local dir="$1"
  [[ -x "$dir/kaniko/executor" ]] &&
    [[ -s "$dir/kaniko/ssl/certs/ca-certificates.crt" ]] &&
    [[ -d "$dir/kaniko/.docker" ]] &&
    "$dir/kaniko/executor" version >/dev/null 2>&1
}

# build_helper KANIKO_DIR OUT_DIR BINARY MODULE PACKAGE
build_helper() {
  local kaniko_dir="$1" out_dir="$2" binary="$3" module="$4" package="$5"
  local import_path version helper_dir
  if [[ "$package" == "." ]]; then
    import_path="$module"
  else
    import_path="$module/${package#./}"
  fi

  if (cd "$kaniko_dir" && go build -trimpath -ldflags='-s -w' -o "$out_dir/$binary" "$import_path") >&2; then
    return 0
  fi

  log "$binary: building inside the kaniko module failed; trying the pinned module on its own"
  version=$(cd "$kaniko_dir" && go list -m -f '{{.Version}}' "$module" 2>/dev/null) || version=""
  if [[ -z "$version" ]]; then
    return 1
  fi
  helper_dir=$(module_dir "$module@$version") || return 1
  (cd "$helper_dir" && go build -trimpath -ldflags='-s -w' -o "$out_dir/$binary" "$package") >&2
}

# build_executor NAME MODULE VERSION
build_executor() {
  local name="$1" module="$2" version="$3"
  local dest="$ROOT/$name" src tmp old entry binary helper_module package start

  if [[ $FORCE -eq 0 ]] && executor_ok "$dest"; then
    log "$name: already built at $dest, skipping"
    return 0
  fi

  start=$SECONDS
  log "$name: fetching $module@$version"
  src=$(module_dir "$module@$version") || die "$name: cannot download $module@$version"
  [[ -d "$src/cmd/executor" ]] || die "$name: $src has no cmd/executor"

  tmp=$(mktemp -d "$ROOT/.tmp-$name.XXXXXX")
  TMP_DIRS+=("$tmp")
  mkdir -p "$tmp/kaniko/ssl/certs" "$tmp/kaniko/.docker"

  log "$name: building executor"
  (cd "$src" && go build -trimpath \
    -ldflags="-s -w -X $module/pkg/version.version=$version" \
    -o "$tmp/kaniko/executor" ./cmd/executor) >&2 ||
    die "$name: building the executor failed"

  for entry in "${HELPERS[@]}"; do
    read -r binary helper_module package <<<"$entry"
    log "$name: building $binary"
    if ! build_helper "$src" "$tmp/kaniko" "$binary" "$helper_module" "$package"; then
      rm -f -- "$tmp/kaniko/$binary"
      warn "$name: $binary could not be built; the executor is installed without it"
    fi
  done

  cp -- "$CA_BUNDLE" "$tmp/kaniko/ssl/certs/ca-certificates.crt"
  chmod 0755 "$tmp" "$tmp/kaniko" "$tmp/kaniko/ssl" "$tmp/kaniko/ssl/certs" "$tmp/kaniko/.docker"
  chmod 0644 "$tmp/kaniko/ssl/certs/ca-certificates.crt"

  executor_ok "$tmp" || die "$name: the built executor does not run 'executor version'"

  if [[ -e "$dest" ]]; then
    old=$(mktemp -d "$ROOT/.old-$name.XXXXXX")
    TMP_DIRS+=("$old")
    mv -T -- "$dest" "$old/tree"
  fi
  mv -T -- "$tmp" "$dest"

  log "$name: built in $((SECONDS - start))s: $("$dest/kaniko/executor" version 2>&1 | head -n 1)"
}

# Serialises concurrent runs on the same root, then removes leftovers of
# runs that were killed before they could clean up.
lock_root() {
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$ROOT/.lock"
    flock 9
    local stale
    for stale in "$ROOT"/.tmp-* "$ROOT"/.old-*; do
      if [[ -e "$stale" ]]; then
        chmod -R u+w "$stale" 2>/dev/null || true
        rm -rf -- "$stale"
      fi
    done
  fi
}

main() {
  parse_args "$@"
  check_selection

  command -v go >/dev/null 2>&1 || die "go is not installed (https://go.dev/doc/install)"
  export CGO_ENABLED=0

  ensure_ca_bundle
  mkdir -p -- "$ROOT"
  ROOT=$(cd -- "$ROOT" && pwd -P)
  lock_root

  local entry name module version
  for entry in "${EXECUTORS[@]}"; do
    read -r name module version <<<"$entry"
    if is_selected "$name"; then
      build_executor "$name" "$module" "$version"
    fi
  done

  if [[ ${#WARNINGS[@]} -gt 0 ]]; then
    log "finished with ${#WARNINGS[@]} warning(s):"
    for entry in "${WARNINGS[@]}"; do
      log "  $entry"
    done
  fi

  for entry in "${EXECUTORS[@]}"; do
    read -r name module version <<<"$entry"
    if is_selected "$name"; then
      printf '%s=%s\n' "$name" "$ROOT/$name"
    fi
  done
}

main "$@"
