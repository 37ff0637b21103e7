"""A build specification -> the executor's command line and environment. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .layout import ChrootLayout
from .spec import BuildSpec

# Variables the executor itself depends on; a build argument of that name goes on the
# command line instead of through the environment.
_EXECUTOR_ENV = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "KANIKO_DIR",
        "DOCKER_CONFIG",
        "SSL_CERT_DIR",
        "SSL_CERT_FILE",
        "container",
    }
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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


def executor_invocation(spec: BuildSpec, layout: ChrootLayout) -> Invocation:
    env = base_env(layout)
    argv: list[str] = [
        str(layout.executor),
        f"--dockerfile={layout.dockerfile}",
        f"--context=dir://{layout.context_dir}",
        # The chroot is not a container; kaniko's container check would refuse to run.
        "--force",
    ]
    argv += [f"--destination={d}" for d in spec.destinations]
    if spec.destinations:
        # kaniko refuses these without a destination.
        argv += [
            f"--digest-file={layout.digest_file}",
            f"--image-name-with-digest-file={layout.image_name_with_digest_file}",
        ]
    if not spec.push:
        argv.append("--no-push")
    for name, value in spec.build_args:
        if _ENV_NAME.match(name) and name not in _EXECUTOR_ENV:
            # A bare name makes kaniko read the value from its environment: values stay off
            # the command line, where any process on the runner could read them.
            env[name] = value
            argv.append(f"--build-arg={name}")
        else:
            argv.append(f"--build-arg={name}={value}")
    argv += [f"--label={k}={v}" for k, v in spec.labels]
    if spec.target:
        argv.append(f"--target={spec.target}")
    argv += [f"--insecure-registry={r}" for r in spec.insecure_registries]
    argv += [f"--skip-tls-verify-registry={r}" for r in spec.skip_tls_verify_registries]
    argv += [f"--registry-mirror={m}" for m in spec.registry_mirrors]
    if spec.cache:
        argv.append("--cache=true")
        if spec.cache_repo:
            argv.append(f"--cache-repo={spec.cache_repo}")
        if spec.cache_ttl:
            argv.append(f"--cache-ttl={spec.cache_ttl}")
    if spec.cache_dir is not None:
        argv.append(f"--cache-dir={layout.cache_dir}")
    if spec.platform:
        argv.append(f"--custom-platform={spec.platform}")
    if spec.reproducible:
        argv.append("--reproducible")
    if spec.snapshot_mode:
        argv.append(f"--snapshot-mode={spec.snapshot_mode}")
    if spec.use_new_run:
        argv.append("--use-new-run")
    if spec.push_retry is not None:
        argv.append(f"--push-retry={spec.push_retry}")
    if spec.verbosity != "info":
        argv.append(f"--verbosity={spec.verbosity}")
    if spec.tar_path is not None:
        argv.append(f"--tar-path={layout.tar_path}")
    if spec.oci_layout_path is not None:
        argv.append(f"--oci-layout-path={layout.oci_layout}")
    for index, (registry, _ca) in enumerate(spec.registry_certificates):
        argv.append(f"--registry-certificate={registry}={layout.registry_ca(index)}")
    for index, (registry, _cert, _key) in enumerate(spec.registry_client_certs):
        cert, key = layout.client_cert(index)
        argv.append(f"--registry-client-cert={registry}={cert},{key}")
    argv += spec.extra_args
    return Invocation(argv=tuple(argv), env=env)
