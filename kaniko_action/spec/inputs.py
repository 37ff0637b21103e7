"""The action's inputs: names, defaults, descriptions, and how raw values are read.

This table (with build/outputs.py for the outputs) is the single source of truth: `action.yml`
must match it (a test checks), and the README's inputs/outputs table is generated from
`action.yml`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InputError


@dataclass(frozen=True)
class InputDef:
    name: str
    description: str
    default: str = ""
    required: bool = False


INPUTS: tuple[InputDef, ...] = (
    InputDef(
        "context",
        "Build context directory, relative to the workspace. Default: the Dockerfile's directory.",
    ),
    InputDef(
        "file",
        "Dockerfile path relative to the workspace. Default: `Dockerfile`, or "
        "`<context>/Dockerfile` when only `context` is given.",
    ),
    InputDef(
        "dockerfile", "Old (v2) name of `file`; giving both with different values is an error."
    ),
    InputDef("image", "Image repository to push to (v2 interface); pushed as `image:tag`."),
    InputDef("tag", "Tag used with `image`.", default="latest"),
    InputDef(
        "tags",
        "Full image references, separated by newlines or commas, pushed with `push: true` "
        "(docker/metadata-action's `tags` output works unchanged).",
    ),
    InputDef(
        "push",
        "Push the image. Default: `false`, as in build-push-action (`outputs` may push), "
        "except with the v2 `image` input and no `tags`: `true`.",
    ),
    InputDef(
        "build-args",
        "Build arguments, one `NAME=VALUE` per line (values may contain spaces and `=`).",
    ),
    InputDef("labels", "Image labels, one `key=value` per line."),
    InputDef("target", "Build stage to build; later stages are not built."),
    InputDef(
        "insecure-registries",
        "Registries (`host:port`, newline or comma separated) reached over plain HTTP.",
    ),
    InputDef(
        "executor-dir",
        "Directory on the runner holding the kaniko executor, laid out like the executor "
        "image's `/kaniko`.",
        default="/kaniko",
    ),
    InputDef(
        "work-dir",
        "Existing directory on the runner under which each build's work directory (the "
        "chroot) is made instead of RUNNER_TEMP, typically a memory-backed volume: absolute, "
        "or relative to the workspace, and outside it. Only what the action makes in it is "
        "removed. See Performance in the README.",
    ),
    InputDef(
        "registry",
        "Registry to log in to with `username` and `password`. Default: the first "
        "destination's registry.",
    ),
    InputDef("username", "Username for `registry`."),
    InputDef("password", "Password or token for `registry` (masked in logs)."),
    InputDef(
        "registry-certificates",
        "CA certificates to trust per registry, one `registry=path/to/ca.pem` per line (paths "
        "relative to the workspace; each a regular file of at most 1 MiB inside the workspace "
        "or RUNNER_TEMP, a symlink only if it resolves there).",
    ),
    InputDef(
        "registry-client-certs",
        "TLS client certificates per registry (mutual TLS), one "
        "`registry=path/to/cert.pem,path/to/key.pem` per line (the same rules as "
        "`registry-certificates`).",
    ),
    InputDef(
        "cache", "Cache layers in a registry repository (kaniko's `--cache`).", default="false"
    ),
    InputDef(
        "cache-repo",
        "Repository for cached layers. Default: the first destination's repository + `/cache`.",
    ),
    InputDef("cache-repository", "int128/kaniko-action's name for `cache-repo`."),
    InputDef("cache-ttl", "How long cached layers stay valid, as a Go duration (e.g. `168h`)."),
    InputDef(
        "cache-dir",
        "Runner directory of base images pre-pulled by kaniko's warmer (e.g. a mounted "
        "volume); kaniko reads it only with the layer cache on (a warning says so otherwise). "
        "A `type=local` or `type=gha` cache keeps the base images without it.",
    ),
    InputDef(
        "registry-mirrors",
        "Registry mirrors used instead of Docker Hub (newline or comma separated).",
    ),
    InputDef(
        "skip-tls-verify-registries",
        "Registries (`host:port`) whose TLS certificate is not verified.",
    ),
    InputDef(
        "platform",
        "Platform to build for (one), e.g. `linux/arm64`; for several use `platforms`.",
    ),
    InputDef("reproducible", "Strip timestamps for a reproducible image.", default="false"),
    InputDef(
        "single-snapshot",
        "Take one snapshot at the end of each stage instead of one per step (kaniko's "
        "`--single-snapshot`): the image gets one layer for all its RUN and COPY steps on top "
        "of the base image's: a change in any step makes that whole layer new (nothing above "
        "the base is shared between versions on pull), and the layer cache has nothing per "
        "step to reuse. Measured faster on RUN-heavy single-stage builds, most with the work "
        "directory in memory (docs/performance.md).",
        default="false",
    ),
    InputDef(
        "snapshot-mode",
        "kaniko's snapshot mode: `full` (kaniko's default), `redo` or `time`. `redo` and "
        "`time` tell changed files by metadata alone and can keep a file's old content in "
        "the image (a warning says so).",
    ),
    InputDef(
        "use-new-run",
        "Use kaniko's experimental RUN implementation; it tells changed files by metadata "
        "alone and can keep a file's old content in the image (a warning says so).",
        default="false",
    ),
    InputDef("push-retry", "Number of retries for pushing the image."),
    InputDef(
        "verbosity",
        "kaniko's log level: `trace`, `debug`, `info`, `warn`, `error`, `fatal` or `panic`.",
        default="info",
    ),
    InputDef(
        "tar-path",
        "Write the image as a tarball to this path (relative to the workspace, or absolute: "
        "inside the workspace or RUNNER_TEMP, or elsewhere by a path without symlinks where "
        "the job's user could write it itself, such as /tmp). Works with `push: false`; "
        "needs a destination name in `tags` or `image`.",
    ),
    InputDef(
        "oci-layout-path",
        "Write the image as an OCI image layout directory to this path (relative to the "
        "workspace, or absolute; placed like `tar-path`; an existing directory is only "
        "replaced if it is empty or an earlier layout).",
    ),
    InputDef(
        "kaniko-args",
        "Extra executor arguments for anything without an input of its own: one flag per "
        "line, `--flag`, `--flag=value` or `--flag value`.",
    ),
    InputDef(
        "add-hosts",
        "Extra `/etc/hosts` entries for the build, `host:ip` (newline or comma separated).",
    ),
    InputDef("summary", "Write a job summary.", default="true"),
    # docker/build-push-action inputs, so that a workflow written for it runs unchanged.
    InputDef(
        "platforms",
        "Platforms to build, newline or comma separated (e.g. `linux/amd64,linux/arm64`). "
        "Several: one build each, pushed as one image index under every tag.",
    ),
    InputDef("no-cache", "Do not use the layer cache.", default="false"),
    InputDef("pull", "Always pull base images (kaniko always does).", default="false"),
    InputDef("load", "Not possible here (no Docker daemon): use `tar-path`.", default="false"),
    InputDef(
        "cache-from",
        "build-push-action cache sources, one per line; `type=registry,ref=REPO` (or `REPO`) "
        "reads kaniko's layer cache in REPO, `type=local,src=DIR` from a directory on the "
        "runner, `type=gha[,scope=NAME]` from the GitHub Actions cache (restored by "
        "actions/cache in a step of the action). Other types are not honoured (a warning "
        "says why).",
    ),
    InputDef(
        "cache-to",
        "build-push-action cache exports, one per line; `type=registry,ref=REPO` writes "
        "kaniko's layer cache to REPO, `type=local,dest=DIR` to a directory on the runner "
        "(replaced by the layers this build used or made, with its base images and cache "
        "mounts), `type=gha[,scope=NAME]` to the "
        "GitHub Actions cache (saved by actions/cache when it changed). Other types are not "
        "honoured (a warning says why).",
    ),
    InputDef(
        "outputs",
        "Exports, one per line: `type=registry`, `type=image,push=true`, "
        "`type=docker,dest=FILE`, `type=oci,dest=FILE`, `type=oci,dest=DIR,tar=false`, "
        "`type=local,dest=DIR` and `type=tar,dest=FILE` (the image's filesystem), "
        "`type=cacheonly`. Each `dest` is placed like `tar-path` (e.g. "
        "`type=docker,dest=/tmp/image.tar`). When set, they decide whether to push.",
    ),
    InputDef(
        "secrets",
        "Build secrets for `RUN --mount=type=secret`, one `id=value` per line (masked). Needs "
        "the maintained executor (osscontainertools/kaniko).",
    ),
    InputDef(
        "secret-files",
        "Build secrets from files, one `id=path` per line (path relative to the workspace; "
        "a regular file of at most 500 KiB inside the workspace or RUNNER_TEMP, a symlink only "
        "if it resolves there).",
    ),
    InputDef(
        "secret-envs",
        "Build secrets from environment variables, `id=VARIABLE` (newline or comma separated).",
    ),
    InputDef("ssh", "Not supported by the kaniko executor: pass a key with `secret-files`."),
    InputDef(
        "build-contexts",
        "Named contexts, one `name=VALUE` per line: `name=docker-image://REF` replaces the "
        "image or stage `name` in `FROM` and `COPY --from`; `name=DIR` (a directory inside "
        "the workspace, its own `.dockerignore` applied) is read by `COPY --from=name`. "
        "Other forms (`oci-layout://`, URLs, git) are refused.",
    ),
    InputDef("builder", "Ignored with a warning: kaniko has no builder instances."),
    InputDef("network", "`default` or `host` (RUN steps use the runner's network).", default=""),
    InputDef("allow", "Ignored with a warning: kaniko has no entitlements."),
    InputDef("annotations", "Ignored with a warning: kaniko sets no annotations; use `labels`."),
    InputDef("attests", "Ignored with a warning: kaniko produces no attestations."),
    InputDef("provenance", "Ignored with a warning unless `false`: no provenance attestation."),
    InputDef("sbom", "Ignored with a warning unless `false`: no SBOM attestation."),
    InputDef("call", "Only `build` is possible."),
    InputDef("cgroup-parent", "Ignored with a warning: RUN steps are not containers here."),
    InputDef(
        "shm-size",
        "Size of RUN steps' `/dev/shm` (`64m`, `2g`), as for `docker build`. Default: 64 MiB. "
        "No effect where RUN steps run without namespaces (see deploy/README.md).",
    ),
    InputDef("ulimit", "Ignored with a warning: RUN steps are not containers here."),
    InputDef(
        "no-cache-filters",
        "Stages to build without the cache: kaniko's cache is all or nothing, so any stage "
        "here builds the whole image uncached (a notice says so).",
    ),
    InputDef("github-token", "Ignored with a warning: only git contexts would use it."),
)

DEFAULTS: Mapping[str, str] = {i.name: i.default for i in INPUTS}


def env_name(name: str) -> str:
    """The environment variable that carries an input, as @actions/core names it."""
    return "INPUT_" + name.replace(" ", "_").upper()


def read_raw_inputs(env: Mapping[str, str]) -> dict[str, str]:
    """Every known input's value from the environment, trimmed, with defaults for unset ones.

    A set but empty variable counts as empty: the runner passes the default itself, so an empty
    value is what the workflow asked for.
    """
    raw: dict[str, str] = {}
    for item in INPUTS:
        value = env.get(env_name(item.name))
        raw[item.name] = item.default if value is None else value.strip()
    return raw


_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})


def parse_bool(name: str, value: str) -> bool:
    """A YAML 1.2 core-schema boolean, as @actions/core's getBooleanInput accepts."""
    value = value.strip()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputError(name, f"'{value}' is not a boolean (use true or false)")


def parse_list(value: str, *, commas: bool = True) -> list[str]:
    """Items separated by newlines (and commas unless `commas` is False).

    Blank items and surrounding whitespace are dropped; items are never split on spaces.
    """
    pieces = re.split(r"[\r\n,]" if commas else r"[\r\n]", value)
    return [p.strip() for p in pieces if p.strip()]


def parse_pairs(name: str, value: str) -> list[tuple[str, str]]:
    """`KEY=VALUE` lines; the value keeps everything after the first `=`, spaces included.

    Errors give the line number, never the line: a malformed line may be a secret (a token
    pasted without its `NAME=`), and nothing is masked yet when inputs are read.
    """
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(value.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, val = line.strip().partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(name, f"line {number} is not of the form NAME=VALUE")
        if any(c.isspace() for c in key):
            raise InputError(name, f"line {number}: the name before '=' contains whitespace")
        pairs.append((key, val))
    return pairs
