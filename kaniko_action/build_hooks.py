"""The steps of one build around the executor run, once its chroot is ready:

before kaniko runs: check that the executor offers build secrets and stage them, pin the base
images of `FROM --platform=...` stages, ask the credential helpers for the registries the
action itself will talk to (while the chroot is still as the action made it), and finish the
executor's command line;
after it pushed: read the pushed manifest for the image ID, and hand a platform image to the
multi-platform flow.

It also sets up the registry client those steps share (the executor's trust settings and
credentials).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .argv import Invocation, base_env, executor_invocation, executor_passthrough
from .build_secrets import FORK, offers_secrets, secret_flags, secret_input
from .cancellation import CancelState
from .certs import merge_bundles, runner_bundle
from .credential_helpers import ChrootCredentials
from .credentials import DockerConfig, HelperEnvironment
from .errors import InputError
from .executor_probe import executor_output
from .layout import ChrootLayout, chroot_layout
from .platform_plan import plan, runner_platform
from .platforms import Platform, parse_platform
from .report import BuildReport
from .runner import Runner
from .sandbox import Sandbox
from .secret_staging import stage_secrets
from .spec import BuildSpec

if TYPE_CHECKING:
    from .registry_client import RegistryClient

# Called inside the sandbox after a successful build (the multi-platform flow's push).
OnImage = Callable[[Sandbox, ChrootLayout, BuildReport], None]


class RegistryAccess:
    """The registry client the steps share, made when first used: a build that talks to no
    registry itself (no push, one platform, no pinned stage) never loads the HTTP and TLS
    modules or reads the CA bundles."""

    def __init__(self, spec: BuildSpec, credentials: ChrootCredentials) -> None:
        self.spec = spec
        self.credentials = credentials
        self._client: RegistryClient | None = None

    @property
    def client(self) -> RegistryClient:
        if self._client is None:
            from .registry_client import RegistryClient, RegistryTrust

            spec = self.spec
            cas: dict[str, tuple[Path, ...]] = {}
            for registry, ca in spec.registry_certificates:
                cas[registry] = (*cas.get(registry, ()), ca)
            trust = RegistryTrust(
                ca_bundle=merge_bundles(
                    [*runner_bundle(), spec.executor_dir / "ssl" / "certs" / "ca-certificates.crt"]
                ),
                insecure=frozenset(spec.insecure_registries),
                skip_verify=frozenset(spec.skip_tls_verify_registries),
                registry_cas=cas,
                client_certs={r: (cert, key) for r, cert, key in spec.registry_client_certs},
                mirrors=spec.registry_mirrors,
            )
            self._client = RegistryClient(trust, self.credentials)
        return self._client


def registry_access(
    spec: BuildSpec, config: DockerConfig, helper_env: HelperEnvironment, runner: Runner
) -> RegistryAccess:
    """A client that trusts and authenticates exactly as the executor in the chroot does."""
    layout = chroot_layout(spec.paths)
    env: Mapping[str, str] = {**helper_env.variables, **base_env(layout)}
    credentials = ChrootCredentials(config.content, env, layout.kaniko_dir, runner.mask)
    return RegistryAccess(spec, credentials)


class BuildHooks:
    def __init__(
        self,
        spec: BuildSpec,
        env: Mapping[str, str],
        runner: Runner,
        access: RegistryAccess,
        helper_env: HelperEnvironment,
        cancel: CancelState,
        on_image: OnImage | None = None,
    ) -> None:
        self.spec = spec
        self.env = env
        self.runner = runner
        self.access = access
        self.helper_env = helper_env
        self.cancel = cancel
        self.on_image = on_image

    def _check_secrets(
        self, sandbox: Sandbox, layout: ChrootLayout, version: Callable[[], str | None]
    ) -> None:
        status, text = executor_output(sandbox.root, layout, self.cancel, "--help")
        if status == 0 and offers_secrets(text):
            return
        raise InputError(
            secret_input(self.spec.secrets),
            f"build secrets need {FORK}; the executor in 'executor-dir' "
            f"({version() or 'unknown version'}) has no --secret",
        )

    def _pin(self, sandbox: Sandbox, layout: ChrootLayout, host: Platform) -> ChrootLayout:
        target = parse_platform("platform", self.spec.platform) if self.spec.platform else host
        stages = plan(self.spec, target, host)
        if not any(s.pin for s in stages):
            return layout
        from .platform_pins import resolve_pins, write_pinned

        pins = resolve_pins(stages, self.access.client, self.runner.warning)
        for pin in pins:
            self.runner.echo(
                f"Stage {pin.stage} runs on {pin.platform}: line {pin.line} uses {pin.pinned}"
            )
        return write_pinned(str(sandbox.root), layout, self.spec.paths.dockerfile, pins)

    def before_build(
        self,
        sandbox: Sandbox,
        layout: ChrootLayout,
        invocation: Invocation,
        version: Callable[[], str | None],
    ) -> Invocation:
        """Everything between a populated chroot and the executor's start; returns the
        executor's final command line and environment (`invocation` with the additions)."""
        self.access.credentials.root = sandbox.root
        try:
            if self.spec.secrets:
                self._check_secrets(sandbox, layout, version)
                stage_secrets(str(sandbox.root), layout.kaniko_dir, self.spec.secrets, self.env)
            pinned = self._pin(sandbox, layout, runner_platform())
            if self.spec.push or self.on_image is not None:
                # Credential helpers run now, before any RUN step could change the chroot.
                for registry in dict.fromkeys(r.registry for r in self.spec.references):
                    self.access.client.credential(registry)
        finally:
            self.access.credentials.root = None
        if pinned != layout:
            passthrough = executor_passthrough(self.env, self.helper_env.variables)
            invocation = executor_invocation(self.spec, pinned, passthrough)
        argv = invocation.argv + secret_flags(self.spec.secrets, layout.kaniko_dir)
        if self.on_image is not None and not any(a.startswith("--oci-layout-path=") for a in argv):
            argv += (f"--oci-layout-path={layout.oci_layout}",)
        return Invocation(argv, invocation.env)

    def after_build(self, sandbox: Sandbox, layout: ChrootLayout, report: BuildReport) -> None:
        """After a successful executor run, while the chroot still exists."""
        if self.spec.push and report.digest and self.spec.references:
            from .registry_client import RegistryRequestError

            ref = self.spec.references[0]
            try:
                report.image_id = self.access.client.config_digest(
                    ref.registry, ref.repository, report.digest
                )
            except RegistryRequestError as e:
                self.runner.warning(f"the 'imageid' output stays empty: {e}")
        if self.on_image is not None:
            self.on_image(sandbox, layout, report)
