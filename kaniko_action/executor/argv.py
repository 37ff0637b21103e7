"""A build specification -> the executor's command line and environment. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..errors import InputError
from ..sandbox.layout import ChrootLayout
from ..spec.build_spec import BuildSpec
from ..spec.secrets import BuildSecret

# Variables the executor, its Go runtime or its registry client read themselves. Build
# arguments travel in the executor's environment, so one of these names would change how
# kaniko runs (KANIKO_NO_PUSH, KANIKO_REGISTRY_MAP, DOCKER_CONFIG, ...): refused, unless the
# value is what the executor gets anyway.
EXECUTOR_READS = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "TMPDIR",
        "container",
        "DOCKER_CONFIG",
        "DOCKER_AUTH_CONFIG",
        "REGISTRY_AUTH_FILE",
        "SSL_CERT_DIR",
        "SSL_CERT_FILE",
        "BUILDER_OUTPUT",
        "UPSTREAM_CLIENT_TYPE",
        "GODEBUG",
        "GOGC",
        "GOMAXPROCS",
        "GOMEMLIMIT",
        "GOTRACEBACK",
    }
)
EXECUTOR_READS_PREFIXES = ("KANIKO_", "FF_KANIKO_", "OTEL_", "XDG_")
# The runner's proxy settings, which kaniko needs to reach registries behind a proxy.
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
)
# The runner kills processes carrying its tracking id when the job ends.
TRACKING_VARIABLE = "RUNNER_TRACKING_ID"


@dataclass(frozen=True)
class Invocation:
    argv: tuple[str, ...]
    env: dict[str, str]


def base_env(layout: ChrootLayout) -> dict[str, str]:
    """The executor's environment, as the official executor image sets it."""
    kaniko = str(layout.kaniko_dir)
    return {
        "PATH": f"/usr/local/bin:{kaniko}:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "USER": "root",
        "KANIKO_DIR": kaniko,
        "DOCKER_CONFIG": str(layout.docker_config_dir),
        "SSL_CERT_DIR": str(layout.ca_bundle.parent),
        "SSL_CERT_FILE": str(layout.ca_bundle),
    }


def executor_passthrough(
    env: Mapping[str, str], helper_variables: Mapping[str, str]
) -> dict[str, str]:
    """Runner variables the executor gets: credential helpers', proxies, the tracking id."""
    passed = dict(helper_variables)
    for name in (*PROXY_VARIABLES, TRACKING_VARIABLE):
        if env.get(name):
            passed[name] = env[name]
    return passed


def _reserved(name: str) -> bool:
    return name in EXECUTOR_READS or name.startswith(EXECUTOR_READS_PREFIXES)


def executor_invocation(
    spec: BuildSpec,
    layout: ChrootLayout,
    passthrough: Mapping[str, str] | None = None,
    oci_layout: bool = False,
    ignore_paths: tuple[PurePosixPath, ...] = (),
) -> Invocation:
    """The executor's command line and environment; raises InputError for a build argument
    whose name the executor reads itself. `oci_layout`: write an OCI layout even when no
    output asks for one (the multi-platform flow pushes from it). `ignore_paths`: what the
    sandbox placed in the chroot, which kaniko must neither snapshot nor delete."""
    env = {**(passthrough or {}), **base_env(layout)}
    argv: list[str] = [
        str(layout.executor),
        f"--dockerfile={layout.dockerfile}",
        f"--context=dir://{layout.context_dir}",
        # The chroot is not a container; kaniko's container check would refuse to run.
        "--force",
    ]
    argv += [f"--ignore-path={p}" for p in ignore_paths]
    argv += [f"--destination={d}" for d in spec.destinations]
    if spec.destinations:
        # kaniko refuses these without a destination.
        argv += [
            f"--digest-file={layout.digest_file}",
            f"--image-name-with-digest-file={layout.image_name_with_digest_file}",
        ]
    if not spec.push:
        argv.append("--no-push")
    given: set[str] = set()
    for index, (name, value) in enumerate(spec.build_args, start=1):
        # A bare name makes kaniko read the value from its environment: values stay off
        # the command line, where any process on the runner could read them.
        if name in given:
            env[name] = value  # the last one wins, as with docker build
            continue
        if (name in env or _reserved(name)) and env.get(name) != value:
            raise InputError(
                "build-args",
                f"entry {index}: '{name}' is a variable the kaniko executor reads itself, so "
                "it cannot be a build argument here; rename the ARG",
            )
        given.add(name)
        env[name] = value
        argv.append(f"--build-arg={name}")
    argv += [f"--label={k}={v}" for k, v in spec.labels]
    if spec.target:
        argv.append(f"--target={spec.target}")
    argv += [f"--insecure-registry={r}" for r in spec.insecure_registries]
    argv += [f"--skip-tls-verify-registry={r}" for r in spec.skip_tls_verify_registries]
    argv += [f"--registry-mirror={m}" for m in spec.registry_mirrors]
    if spec.cache:
        argv.append("--cache=true")
        if spec.local_cache is not None:
            # Staged into the chroot from cache-from's directory, collected for cache-to's.
            argv.append(f"--cache-repo={layout.layer_cache_repo}")
        elif spec.cache_repo:
            argv.append(f"--cache-repo={spec.cache_repo}")
        if spec.cache_ttl:
            argv.append(f"--cache-ttl={spec.cache_ttl}")
        if spec.local_cache is not None:
            if spec.local_cache.dest is None:
                argv.append("--no-push-cache")
        elif not spec.cache_write:
            argv.append("--no-push-cache")
        elif spec.cache_ignore_error and not spec.push:
            # Building without a push, kaniko checks at start that it may push to the cache
            # repository and fails if not; a failed cache upload later is only a warning.
            argv.append("--skip-push-permission-check")
    if spec.cache_dir is not None or spec.local_cache is not None:
        # With a local layer cache the action keeps base images there (staging/base_images).
        argv.append(f"--cache-dir={layout.cache_dir}")
    if spec.platform:
        argv.append(f"--custom-platform={spec.platform}")
    if spec.reproducible:
        argv.append("--reproducible")
    if spec.snapshot_mode:
        argv.append(f"--snapshot-mode={spec.snapshot_mode}")
    if spec.single_snapshot:
        argv.append("--single-snapshot")
    if spec.use_new_run:
        argv.append("--use-new-run")
    if spec.push_retry is not None:
        argv.append(f"--push-retry={spec.push_retry}")
    if spec.verbosity != "info":
        argv.append(f"--verbosity={spec.verbosity}")
    if spec.tar_path is not None:
        argv.append(f"--tar-path={layout.tar_path}")
    if spec.writes_layout or oci_layout:
        argv.append(f"--oci-layout-path={layout.oci_layout}")
    for index, (registry, _ca) in enumerate(spec.registry_certificates):
        argv.append(f"--registry-certificate={registry}={layout.registry_ca(index)}")
    for index, (registry, _cert, _key) in enumerate(spec.registry_client_certs):
        cert, key = layout.client_cert(index)
        argv.append(f"--registry-client-cert={registry}={cert},{key}")
    argv += secret_flags(spec.secrets, layout)
    argv += spec.extra_args
    return Invocation(argv=tuple(argv), env=env)


def secret_flags(secrets: tuple[BuildSecret, ...], layout: ChrootLayout) -> tuple[str, ...]:
    """`--secret=id=ID,src=FILE` per secret: paths only, never a value."""
    return tuple(f"--secret=id={s.id},src={layout.secret_source(i)}" for i, s in enumerate(secrets))
