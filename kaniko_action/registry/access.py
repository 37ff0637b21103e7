"""The registry client the action's own steps share (reading back a pushed manifest, pinning
base images, pushing multi-platform images), set up to trust and authenticate exactly as the
executor in the chroot does."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..executor.argv import base_env
from ..sandbox.kaniko_files import trust_bundle
from ..sandbox.layout import chroot_layout
from ..spec.build_spec import BuildSpec
from .credentials import DockerConfig, HelperEnvironment
from .helpers import ChrootCredentials

if TYPE_CHECKING:
    from .client import RegistryClient


class RegistryAccess:
    """The client, made when first used: a build that talks to no registry itself (no push,
    one platform, no pinned stage) never loads the HTTP and TLS modules or reads the CA
    bundles."""

    def __init__(self, spec: BuildSpec, credentials: ChrootCredentials) -> None:
        self.spec = spec
        self.credentials = credentials
        self._client: RegistryClient | None = None

    @property
    def client(self) -> RegistryClient:
        if self._client is None:
            from .client import RegistryClient, RegistryTrust

            spec = self.spec
            cas: dict[str, tuple[Path, ...]] = {}
            for registry, ca in spec.registry_certificates:
                cas[registry] = (*cas.get(registry, ()), ca)
            trust = RegistryTrust(
                ca_bundle=trust_bundle(spec.executor_dir),
                insecure=frozenset(spec.insecure_registries),
                skip_verify=frozenset(spec.skip_tls_verify_registries),
                registry_cas=cas,
                client_certs={r: (cert, key) for r, cert, key in spec.registry_client_certs},
                mirrors=spec.registry_mirrors,
            )
            self._client = RegistryClient(trust, self.credentials)
        return self._client


def registry_access(
    spec: BuildSpec,
    config: DockerConfig,
    helper_env: HelperEnvironment,
    mask: Callable[[str], None],
) -> RegistryAccess:
    """Access with the docker config and helper environment the executor gets; a credential
    helper's answer is given to `mask` before anything can print it."""
    layout = chroot_layout(spec.paths)
    env: Mapping[str, str] = {**helper_env.variables, **base_env(layout)}
    credentials = ChrootCredentials(config.content, env, layout.kaniko_dir, mask)
    return RegistryAccess(spec, credentials)
