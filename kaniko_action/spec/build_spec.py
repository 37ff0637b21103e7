"""Raw inputs -> a typed, validated build specification. No filesystem writes, no processes."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..oci.platform import parse_platform, parse_platforms
from ..utils.users import JobUser, job_user
from .buildx import Translation, translate
from .cache import LocalCache
from .contexts import NamedContext, parse_build_contexts
from .exports import OutputPlan, parse_outputs, unpushed_image_refused
from .inputs import parse_bool, parse_list, parse_pairs
from .login import Login, parse_login
from .paths import (
    CERTIFICATE_FILE_LIMIT,
    OCI_LAYOUT_MARKER,
    BuildPaths,
    cache_directory,
    context_directory,
    input_file,
    is_within,
    output_path,
    read_input,
    resolve_paths,
    runner_dir,
    work_dir,
)
from .references import Reference, check_registry_host, parse_reference
from .secrets import BuildSecret, parse_secrets

VERBOSITY = ("trace", "debug", "info", "warn", "error", "fatal", "panic")
SNAPSHOT_MODES = ("full", "redo", "time")
# Settings under which kaniko tells a changed file by its metadata alone (kaniko's
# RedoHasher, MtimeHasher, and the new RUN implementation's isSame): a RUN step that rewrites
# a file and restores its modification time goes unseen, and the image keeps the file's old
# content. Measured with both executors (tests/test_e2e_snapshots.py); `full` hashes contents.
_STALE_CONTENT = (
    "can keep a file's old content in the image: {how}, so a RUN step that rewrites a file "
    "{what} and restores its modification time goes unseen (measured with both executors). "
    "kaniko's default compares contents; 'single-snapshot: true' with the default snapshot "
    "mode is faster on RUN-heavy builds and compares contents too"
)
_METADATA = "a file's size, mode, owner and modification time"
STALE_SNAPSHOT_MODES: Mapping[str, str] = {
    "redo": _STALE_CONTENT.format(
        how=f"kaniko then compares only {_METADATA}", what="with content of the same size"
    ),
    "time": _STALE_CONTENT.format(
        how="kaniko then compares only a file's modification time", what="with any content"
    ),
}
STALE_NEW_RUN = _STALE_CONTENT.format(
    how=f"it finds what a RUN step changed by comparing only {_METADATA}",
    what="with content of the same size",
)
_GO_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
_HOST_ENTRY = re.compile(r"^([A-Za-z0-9.-]+)[:=]([0-9A-Fa-f.:]+)$")

# Executor flags the action sets itself, and the input to use instead of each.
OWNED_FLAGS: Mapping[str, str] = {
    "destination": "tags",
    "d": "tags",
    "context": "context",
    "c": "context",
    "dockerfile": "file",
    "f": "file",
    "digest-file": "the 'digest' output",
    "image-name-with-digest-file": "the 'image' output",
    "image-name-tag-with-digest-file": "the 'image' output",
    "kaniko-dir": "executor-dir",
    "no-push": "push",
    "tar-path": "tar-path",
    "oci-layout-path": "oci-layout-path",
    "build-arg": "build-args",
    "label": "labels",
    "target": "target",
    "insecure-registry": "insecure-registries",
    "skip-tls-verify-registry": "skip-tls-verify-registries",
    "registry-mirror": "registry-mirrors",
    "cache": "cache",
    "cache-repo": "cache-repo",
    "cache-ttl": "cache-ttl",
    "cache-dir": "cache-dir",
    "custom-platform": "platform",
    "reproducible": "reproducible",
    "snapshot-mode": "snapshot-mode",
    # kaniko's deprecated spelling of --snapshot-mode.
    "snapshotMode": "snapshot-mode",
    "single-snapshot": "single-snapshot",
    "use-new-run": "use-new-run",
    "push-retry": "push-retry",
    "verbosity": "verbosity",
    "v": "verbosity",
    "force": "(nothing: the action always sets it)",
    "registry-certificate": "registry-certificates",
    "registry-client-cert": "registry-client-certs",
    "secret": "secrets",
}


@dataclass(frozen=True)
class BuildSpec:
    paths: BuildPaths
    destinations: tuple[str, ...]
    push: bool
    build_args: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    target: str | None = None
    insecure_registries: tuple[str, ...] = ()
    executor_dir: Path = Path("/kaniko")
    references: tuple[Reference, ...] = field(default=(), compare=False)
    cache: bool = False
    cache_repo: str | None = None
    # False: kaniko reads the layer cache without writing it (cache-from with no cache-to).
    cache_write: bool = True
    # A failed cache write must not fail the build (cache-to's ignore-error=true).
    cache_ignore_error: bool = False
    cache_ttl: str | None = None
    cache_dir: Path | None = None
    # type=local in cache-from / cache-to: kaniko's layer cache in directories of the runner.
    local_cache: LocalCache | None = None
    registry_mirrors: tuple[str, ...] = ()
    skip_tls_verify_registries: tuple[str, ...] = ()
    platform: str | None = None
    reproducible: bool = False
    snapshot_mode: str | None = None
    single_snapshot: bool = False
    use_new_run: bool = False
    push_retry: int | None = None
    verbosity: str = "info"
    tar_path: Path | None = None
    oci_layout_path: Path | None = None
    runner_temp: Path | None = None
    # Where work directories go instead of RUNNER_TEMP (the work-dir input), a real path.
    work_dir: Path | None = None
    extra_args: tuple[str, ...] = ()
    add_hosts: tuple[tuple[str, str], ...] = ()
    summary: bool = True
    warnings: tuple[str, ...] = ()
    # What the action does instead of what an input asked, said in the log.
    notices: tuple[str, ...] = ()
    login: Login | None = None
    registry_certificates: tuple[tuple[str, Path], ...] = ()
    registry_client_certs: tuple[tuple[str, Path, Path], ...] = ()
    # Several platforms: one build each, pushed as one image index (multiplatform.py).
    platforms: tuple[str, ...] = ()
    secrets: tuple[BuildSecret, ...] = field(default=(), repr=False)
    oci_tar_path: Path | None = None
    # RUN steps' /dev/shm in bytes (the shm-size input); None: Docker's default.
    shm_size: int | None = None
    # The image's filesystem: `outputs` type=local (a directory) and type=tar (a tarball).
    local_dir: Path | None = None
    rootfs_tar_path: Path | None = None
    # Who root writes outputs outside the workspace and RUNNER_TEMP for, and gives them to
    # (None: a job run as root, whose outputs there go to the workspace's owner).
    job_user: JobUser | None = None

    @property
    def writes_layout(self) -> bool:
        """Whether kaniko must write an OCI layout: every output but `tar-path` is made
        from one."""
        return any(
            p is not None
            for p in (self.oci_layout_path, self.oci_tar_path, self.local_dir, self.rootfs_tar_path)
        )

    # build-contexts: each named context, and the real directory of a local one.
    build_contexts: tuple[tuple[NamedContext, Path | None], ...] = ()


def _destinations(
    raw: Mapping[str, str], names: tuple[str, ...] = ()
) -> tuple[list[str], list[Reference]]:
    destinations: list[str] = []
    references: list[Reference] = []
    for value in parse_list(raw["tags"]):
        references.append(parse_reference("tags", value))
        destinations.append(value)
    for value in names:
        references.append(parse_reference("outputs", value))
        destinations.append(value)
    image = raw["image"]
    if image:
        tag = raw["tag"] or "latest"
        ref = parse_reference("image", image)
        if ref.tag or ref.digest:
            raise InputError("image", f"'{image}' must not carry a tag or digest; use 'tag'")
        full = f"{image}:{tag}"
        references.append(parse_reference("tag", full))
        destinations.append(full)
    elif raw["tag"] not in ("", "latest"):
        raise InputError("tag", "is set but 'image' is empty; put full references in 'tags'")
    unique: dict[str, Reference] = {}
    for dest, ref in zip(destinations, references):
        unique.setdefault(dest, ref)
    return list(unique), list(unique.values())


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InputError(name, f"'{value}' is not one of {', '.join(allowed)}")
    return value


def _check_owned(number: int, flag: str) -> None:
    if flag in OWNED_FLAGS:
        shown = ("-" if len(flag) == 1 else "--") + flag
        raise InputError(
            "kaniko-args",
            f"line {number}: '{shown}' is set by the action: use {_input_of(flag)} instead",
        )


def _extra_args(value: str) -> tuple[str, ...]:
    """One flag per line: `--flag`, `--flag=value`, `--flag value`, `-x value`, `-xvalue`.

    Every form is checked against the flags the action owns, single-dash ones included
    (`-dVALUE` is `--destination=VALUE` to the executor). A line never yields a second flag:
    a value after a space that starts with `-` is refused. Errors name the line number and
    the flag, never the value.
    """
    args: list[str] = []
    for number, raw in enumerate(value.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("-") or line.strip("-") == "":
            raise InputError(
                "kaniko-args", f"line {number} is not a flag (one --flag[=value] per line)"
            )
        head = line.split(None, 1)[0]
        # pflag reads `-dVALUE`, `-d=VALUE` and `-d VALUE` alike: after a single dash the
        # first letter is the flag (every shorthand of the executor takes a value).
        flag = head[2:].split("=", 1)[0] if line.startswith("--") else head[1]
        _check_owned(number, flag)
        if "=" in head or (" " not in line and "\t" not in line):
            # `--flag=value` (the value may hold spaces) or a lone flag: one argument.
            args.append(line)
            continue
        rest = line.split(None, 1)[1].strip()
        try:
            values = shlex.split(rest)
        except ValueError as e:
            raise InputError("kaniko-args", f"line {number}: {e}") from e
        if len(values) != 1 or values[0].startswith("-"):
            raise InputError(
                "kaniko-args",
                f"line {number}: one flag and at most one value per line (quote a value "
                "that holds spaces)",
            )
        args.extend([head, values[0]])
    return tuple(args)


def _input_of(flag: str) -> str:
    target = OWNED_FLAGS[flag]
    return target if target.startswith(("the ", "(")) else f"the '{target}' input"


@dataclass(frozen=True)
class _Cache:
    use: bool
    repo: str | None
    write: bool
    ignore_error: bool
    local_src: str | None = None
    local_dest: str | None = None


def _cache_settings(raw: Mapping[str, str], compat: Translation) -> _Cache:
    """The layer cache from the action's own inputs and build-push-action's. kaniko writes
    the cache unless only `cache-from` turned it on."""
    cache = parse_bool("cache", raw["cache"])
    if (
        raw["cache-repo"]
        and raw["cache-repository"]
        and raw["cache-repo"] != raw["cache-repository"]
    ):
        raise InputError("cache-repository", "differs from 'cache-repo'; give only one of them")
    repo = raw["cache-repo"] or raw["cache-repository"] or compat.cache_repo
    if compat.use_cache is False and cache:
        raise InputError("no-cache", "is true while 'cache' is true; choose one")
    write = cache or compat.cache_write
    if compat.use_cache is not None:
        cache = compat.use_cache
    if compat.uncached:
        cache = False
    if repo:
        parse_reference("cache-repo", repo)
    local_src, local_dest = compat.cache_local_src, compat.cache_local_dest
    if (local_src or local_dest) and repo:
        raise InputError(
            "cache-repo",
            "is set while 'cache-from'/'cache-to' name a local cache directory: kaniko uses "
            "one layer cache; give only one of them",
        )
    return _Cache(cache, repo or None, write, compat.cache_ignore_error, local_src, local_dest)


def read_certificate(name: str, registry: str, path: Path) -> bytes:
    """A CA certificate, client certificate or key _certificates accepted, read without
    following a symlink (`name`: its input)."""
    return read_input(name, f"the file for {registry} ({path})", path, CERTIFICATE_FILE_LIMIT)


def _certificates(
    raw: Mapping[str, str], workspace: Path, runner_temp: Path | None
) -> tuple[tuple[tuple[str, Path], ...], tuple[tuple[str, Path, Path], ...]]:
    """The CA and client certificate files, each confined to the workspace or RUNNER_TEMP."""

    def certificate_file(name: str, registry: str, value: str) -> Path:
        return input_file(
            name,
            f"'{value}' (for {registry})",
            workspace,
            value,
            runner_temp,
            CERTIFICATE_FILE_LIMIT,
        )

    cas: list[tuple[str, Path]] = []
    for registry, value in parse_pairs("registry-certificates", raw["registry-certificates"]):
        check_registry_host("registry-certificates", registry)
        cas.append((registry, certificate_file("registry-certificates", registry, value)))
    clients: list[tuple[str, Path, Path]] = []
    for registry, value in parse_pairs("registry-client-certs", raw["registry-client-certs"]):
        check_registry_host("registry-client-certs", registry)
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2 or not all(parts):
            raise InputError(
                "registry-client-certs", f"'{registry}={value}' is not registry=cert.pem,key.pem"
            )
        cert = certificate_file("registry-client-certs", registry, parts[0])
        key = certificate_file("registry-client-certs", registry, parts[1])
        clients.append((registry, cert, key))
    return tuple(cas), tuple(clients)


def _push(raw: Mapping[str, str], plan: OutputPlan | None) -> bool | None:
    """Whether to push; None when nothing says so, which build_spec decides by interface.

    With `outputs`, they decide, and `push: true` adds a push to what they export (buildx's
    `--push` adds a `type=image,push=true` export, or sets push=true on a type=image one)."""
    push = parse_bool("push", raw["push"]) if raw["push"] else None
    if plan is None:
        return push
    if plan.push and push is False:
        raise InputError("outputs", "pushes (type=registry or push=true) while 'push' is false")
    if plan.unpushed_image is not None and push is not True:
        raise InputError("outputs", unpushed_image_refused(plan.unpushed_image, by_input=True))
    return plan.push or push is True


def v2_interface(raw: Mapping[str, str]) -> bool:
    """Whether the step uses kaniko-build v2's interface (`image`, no `tags`), whose `push`
    defaults to true; build-push-action's defaults to false."""
    return bool(raw["image"]) and not raw["tags"]


@dataclass(frozen=True)
class _Places:
    """What an output path is checked against: the workspace, RUNNER_TEMP and `work-dir`
    (real paths), and the job's user (paths.output_place)."""

    workspace: Path
    runner_temp: Path | None
    work_base: Path | None
    user: JobUser | None

    def output(self, name: str, value: str) -> Path | None:
        return output_path(
            name, self.workspace, value, self.runner_temp, self.work_base, user=self.user
        )


def _output_file(
    name: str, places: _Places, given: str, from_outputs: str | None, directory: bool
) -> Path | None:
    """An output path from its own input (`name`) or from `outputs`, not both; placed by
    paths.output_place either way."""
    if given and from_outputs:
        raise InputError("outputs", f"writes what '{name}' also names; give only one of them")
    if not from_outputs:
        return places.output(name, given) if name else None
    path = places.output("outputs", from_outputs)
    if path is None or not os.path.lexists(path):
        return path
    if not directory and not path.is_file():
        raise InputError("outputs", f"'{from_outputs}' exists and is not a file")
    if directory and not path.is_dir():
        raise InputError("outputs", f"'{from_outputs}' exists and is not a directory")
    if directory and os.listdir(path) and not (path / OCI_LAYOUT_MARKER).is_file():
        raise InputError(
            "outputs",
            f"'{from_outputs}' is a directory that is not empty and holds no OCI layout; "
            "choose a new path (an existing directory is never replaced)",
        )
    return path


def _filesystem_output(places: _Places, value: str | None, directory: bool) -> Path | None:
    """Where `outputs` type=local (`directory`) or type=tar writes the image's filesystem:
    a new or empty directory, or a file that is not a directory."""
    if value is None:
        return None
    path = places.output("outputs", value)
    if path is None or not os.path.lexists(path):
        return path
    if directory and not path.is_dir():
        raise InputError("outputs", f"'{value}' exists and is not a directory")
    if directory and os.listdir(path):
        raise InputError(
            "outputs",
            f"'{value}' is a directory that is not empty; type=local needs a new or empty "
            "directory (an existing directory is never replaced)",
        )
    if not directory and path.is_dir():
        raise InputError("outputs", f"'{value}' is a directory; type=tar needs a file name")
    if not directory and not path.is_file():
        raise InputError("outputs", f"'{value}' exists and is not a regular file")
    return path


def _platforms(raw: Mapping[str, str], listed: list[str]) -> tuple[str | None, tuple[str, ...]]:
    """(the one platform, or the several) from `platform` and `platforms`."""
    several = parse_platforms("platforms", listed)
    single = parse_platform("platform", raw["platform"]) if raw["platform"] else None
    if single is not None and several and (len(several) > 1 or several[0] != single):
        raise InputError(
            "platforms", f"'{raw['platforms']}' differs from 'platform' ('{raw['platform']}')"
        )
    if len(several) > 1:
        return None, tuple(str(p) for p in several)
    chosen = single or (several[0] if several else None)
    return (str(chosen) if chosen else None), ()


def _misplaced_gha(compat: Translation) -> str | None:
    """Why a gha cache's directory in the workspace cannot be used (the workspace's files,
    a checkout included, may have put anything there), or None."""
    for name, gha in (("cache-from", compat.cache_gha_from), ("cache-to", compat.cache_gha_to)):
        if gha is None:
            continue
        path = gha.directory
        if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
            return (
                f"input '{name}': the GitHub Actions cache's directory {gha.name} in the "
                "workspace is not a directory: building without the layer cache"
            )
    return None


def build_spec(
    raw: Mapping[str, str],
    workspace: str,
    runner_temp: str | None = None,
    env: Mapping[str, str] | None = None,
) -> BuildSpec:
    """Validate every input and resolve paths; raises InputError naming the first bad input.

    `env` is the action's environment, where `secret-envs` finds its variables and
    SUDO_UID/SUDO_GID the job's user of a re-run through sudo.
    """
    in_workflow = env is not None and env.get("GITHUB_ACTIONS") == "true"
    compat = translate(raw, os.path.realpath(workspace) if in_workflow else None)
    plan = parse_outputs(raw["outputs"])
    asked = _push(raw, plan)
    push = v2_interface(raw) if asked is None else asked
    destinations, references = _destinations(raw, plan.names if plan else ())
    if push and not destinations:
        raise InputError(
            "tags", "no destination to push to: set 'tags', or drop 'push: true' to only build"
        )
    notices = list(compat.notices)
    if asked is None and destinations and not push:
        notices.append(
            "nothing is pushed: 'push' is not set, and as in docker/build-push-action it "
            "defaults to false; set 'push: true' to push"
        )
    for ref, dest in zip(references, destinations):
        if ref.digest:
            raise InputError("tags", f"'{dest}' has a digest; a destination needs a tag")
    target = raw["target"] or None
    if target is not None and any(c.isspace() for c in target):
        raise InputError("target", f"'{target}' is not a stage name")
    insecure = tuple(
        check_registry_host("insecure-registries", v)
        for v in parse_list(raw["insecure-registries"])
    )
    skip_tls = tuple(
        check_registry_host("skip-tls-verify-registries", v)
        for v in parse_list(raw["skip-tls-verify-registries"])
    )
    mirrors = tuple(parse_list(raw["registry-mirrors"]))
    for mirror in mirrors:
        if "://" in mirror or " " in mirror:
            raise InputError("registry-mirrors", f"'{mirror}' is not host[:port][/path]")
    executor_dir = Path(raw["executor-dir"] or "/kaniko")
    if not executor_dir.is_absolute():
        raise InputError("executor-dir", f"'{executor_dir}' must be an absolute path")

    cache_settings = _cache_settings(raw, compat)
    cache, cache_repo = cache_settings.use, cache_settings.repo
    local_cache = cache_settings.local_src is not None or cache_settings.local_dest is not None
    if cache and not cache_repo and not destinations and not local_cache:
        raise InputError("cache-repo", "'cache' is on but there is no repository to cache in")
    cache_ttl = raw["cache-ttl"] or None
    if cache_ttl is not None and not _GO_DURATION.match(cache_ttl):
        raise InputError("cache-ttl", f"'{cache_ttl}' is not a duration such as 6h or 30m")

    platform, platforms = _platforms(raw, compat.platforms)

    push_retry: int | None = None
    if raw["push-retry"]:
        if not raw["push-retry"].isdigit():
            raise InputError("push-retry", f"'{raw['push-retry']}' is not a whole number")
        push_retry = int(raw["push-retry"])

    add_hosts: list[tuple[str, str]] = []
    for entry in parse_list(raw["add-hosts"]):
        match = _HOST_ENTRY.match(entry)
        if match is None:
            raise InputError("add-hosts", f"'{entry}' is not host:ip")
        add_hosts.append((match.group(1), match.group(2)))

    paths = resolve_paths(workspace, raw["context"], raw["file"], raw["dockerfile"])
    ws = paths.workspace
    build_contexts = tuple(
        (c, context_directory(ws, "build-contexts", c.directory) if c.directory else None)
        for c in parse_build_contexts(raw["build-contexts"])
    )
    temp = Path(os.path.realpath(runner_temp)) if runner_temp else None
    work = work_dir(ws, raw["work-dir"])
    docker_tar, oci_dir, oci_tar = (
        (plan.docker_tar, plan.oci_dir, plan.oci_tar) if plan else (None, None, None)
    )
    user = job_user(env if env is not None else {})
    places = _Places(ws, temp, work, user)
    tar_path = _output_file("tar-path", places, raw["tar-path"], docker_tar, False)
    oci_path = _output_file("oci-layout-path", places, raw["oci-layout-path"], oci_dir, True)
    oci_tar_path = _output_file("", places, "", oci_tar, False)
    local_dir = _filesystem_output(places, plan.local_dir if plan else None, True)
    rootfs_tar = _filesystem_output(places, plan.rootfs_tar if plan else None, False)
    if plan is not None and plan.cacheonly and (tar_path or oci_path):
        raise InputError(
            "outputs",
            f"type=cacheonly exports nothing, while '{'tar-path' if tar_path else 'oci-layout-path'}'"
            " writes the image; give only one of them",
        )
    written = [
        p for p in (tar_path, oci_path, oci_tar_path, local_dir, rootfs_tar) if p is not None
    ]
    for i, one in enumerate(written):
        for other in written[i + 1 :]:
            if is_within(one, other) or is_within(other, one):
                raise InputError(
                    "outputs" if plan else "oci-layout-path",
                    "two outputs overlap ('tar-path', 'oci-layout-path' or 'outputs'); give "
                    "them separate paths",
                )
    if tar_path is not None and not destinations:
        raise InputError(
            "outputs" if docker_tar else "tar-path",
            "needs a destination name in 'tags' or 'image'",
        )
    if tar_path is not None and platforms:
        raise InputError(
            "platforms",
            "a docker tarball holds one platform; for several write an OCI layout "
            "(type=oci,dest=FILE in 'outputs', or 'oci-layout-path')",
        )
    snapshot_mode = (
        _choice("snapshot-mode", raw["snapshot-mode"], SNAPSHOT_MODES)
        if raw["snapshot-mode"]
        else None
    )
    use_new_run = parse_bool("use-new-run", raw["use-new-run"])
    warnings = list(compat.warnings)
    stale = STALE_SNAPSHOT_MODES.get(snapshot_mode or "")
    if stale is not None:
        warnings.append(f"input 'snapshot-mode': '{snapshot_mode}' {stale}")
    if use_new_run:
        warnings.append(f"input 'use-new-run': {STALE_NEW_RUN}")
    cache_dir = runner_dir("cache-dir", paths.workspace, raw["cache-dir"])
    misplaced = _misplaced_gha(compat) if cache and local_cache else None
    if misplaced is not None:
        warnings.append(misplaced)
        cache = False
    layer_cache = None
    if cache and local_cache:
        src = cache_directory(
            "cache-from", ws, temp, cache_settings.local_src, writes=False, work_base=work
        )
        try:
            cache_dest = cache_directory(
                "cache-to", ws, temp, cache_settings.local_dest, writes=True,
                work_base=work, user=user,
            )  # fmt: skip
        except InputError as e:
            # A cache never fails a build: this one is read and not written.
            warnings.append(f"{e}: the layer cache is not written")
            cache_dest = None
        layer_cache = LocalCache(src, cache_dest, gha=compat.cache_gha_to if cache_dest else None)
    if cache_dir is not None and not cache:
        warnings.append(
            "input 'cache-dir': kaniko reads base images from it only with its layer cache on "
            "('cache: true', or a 'cache-from'); without it every base image is pulled"
        )
    login = parse_login(raw, references)
    registry_certificates, registry_client_certs = _certificates(raw, paths.workspace, temp)
    return BuildSpec(
        paths=paths,
        destinations=tuple(destinations),
        push=push,
        build_args=tuple(parse_pairs("build-args", raw["build-args"])),
        labels=tuple(parse_pairs("labels", raw["labels"])),
        target=target,
        insecure_registries=insecure,
        executor_dir=executor_dir,
        references=tuple(references),
        cache=cache,
        cache_repo=cache_repo,
        cache_write=cache_settings.write,
        cache_ignore_error=cache_settings.ignore_error,
        cache_ttl=cache_ttl,
        cache_dir=cache_dir,
        local_cache=layer_cache,
        registry_mirrors=mirrors,
        skip_tls_verify_registries=skip_tls,
        platform=platform,
        reproducible=parse_bool("reproducible", raw["reproducible"]),
        snapshot_mode=snapshot_mode,
        single_snapshot=parse_bool("single-snapshot", raw["single-snapshot"]),
        use_new_run=use_new_run,
        push_retry=push_retry,
        verbosity=_choice("verbosity", raw["verbosity"] or "info", VERBOSITY),
        tar_path=tar_path,
        oci_layout_path=oci_path,
        runner_temp=temp,
        work_dir=work,
        extra_args=_extra_args(raw["kaniko-args"]),
        add_hosts=tuple(add_hosts),
        summary=parse_bool("summary", raw["summary"]),
        warnings=tuple(warnings),
        notices=tuple(notices),
        login=login,
        registry_certificates=registry_certificates,
        registry_client_certs=registry_client_certs,
        platforms=platforms,
        secrets=parse_secrets(raw, paths.workspace, env if env is not None else {}, temp),
        oci_tar_path=oci_tar_path,
        shm_size=compat.shm_size,
        local_dir=local_dir,
        rootfs_tar_path=rootfs_tar,
        build_contexts=build_contexts,
        job_user=user,
    )
