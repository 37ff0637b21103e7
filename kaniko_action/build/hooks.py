"""The steps of one build around the executor run, once its chroot is ready.

Before kaniko runs: check that the executor offers build secrets and stage them, pin the base
images of `FROM --platform=...` stages, put the base images in kaniko's base-image cache
when the build has a local layer cache, and ask the credential helpers for the registries the
action itself will talk to (while the chroot is still as the action made it). Each returns
what the executor's command line needs. After a push: read the pushed manifest back for its
descriptor and image ID.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from ..errors import InputError
from ..executor.argv import Invocation, executor_invocation, executor_passthrough
from ..executor.probe import executor_output, offers_secrets
from ..executor.results import PushResult
from ..oci.built import BuiltImage
from ..oci.media import IMAGE_MANIFESTS
from ..oci.platform import Platform, host_platform, parse_platform
from ..platforms.plan import plan
from ..platforms.stages import pulled_bases
from ..sandbox.chroot import Sandbox
from ..sandbox.layout import ChrootLayout, ignored_paths
from ..spec.build_spec import BuildSpec
from ..spec.secrets import secret_input, without_secret_support
from ..staging.context import read_staged
from ..staging.named import write_named
from ..staging.secrets import stage_secrets
from .caching import stage_base_images
from .context import RunContext


def _check_secrets(
    spec: BuildSpec, sandbox: Sandbox, layout: ChrootLayout, ctx: RunContext, version: str | None
) -> None:
    status, text = executor_output(sandbox.root, layout, ctx.cancel, "--help")
    if status == 0 and offers_secrets(text):
        return
    raise InputError(secret_input(spec.secrets), without_secret_support(version))


def _pin(
    spec: BuildSpec, sandbox: Sandbox, layout: ChrootLayout, ctx: RunContext, host: Platform
) -> tuple[ChrootLayout, list[tuple[str, Platform]]]:
    """The layout whose Dockerfile kaniko reads (the user's, or a copy with pinned bases),
    and the base images kaniko pulls for it, with their platforms."""
    target = parse_platform("platform", spec.platform) if spec.platform else host
    text = None
    if spec.build_contexts:  # the pins are those of the Dockerfile as rewritten
        staged = read_staged(str(sandbox.root), layout.dockerfile)
        text = staged.decode("utf-8", errors="replace") if staged is not None else None
    stages = plan(spec, target, host, text)
    if not any(s.pin for s in stages):
        return layout, pulled_bases(stages, {})
    from ..platforms.pins import resolve_pins, write_pinned

    pins = resolve_pins(stages, ctx.access.client, ctx.workflow.warning)
    for pin in pins:
        ctx.workflow.echo(
            f"Stage {pin.stage} runs on {pin.platform}: line {pin.line} uses {pin.pinned}"
        )
    bases = pulled_bases(stages, {pin.stage: pin.pinned for pin in pins})
    return write_pinned(str(sandbox.root), layout, pins), bases


def prepare_executor(
    spec: BuildSpec,
    sandbox: Sandbox,
    layout: ChrootLayout,
    ctx: RunContext,
    version: Callable[[], str | None],
    oci_layout: bool,
    injected: tuple[PurePosixPath, ...] = (),
) -> Invocation:
    """Everything between a populated chroot and the executor's start; returns the
    executor's command line and environment. `oci_layout`: kaniko must write an OCI layout
    even when no output asks for one; `injected`: files staged in the chroot for credential
    helpers."""
    ctx.access.credentials.root = sandbox.root
    try:
        if spec.secrets:
            _check_secrets(spec, sandbox, layout, ctx, version())
            stage_secrets(str(sandbox.root), layout, spec.secrets, ctx.env)
        named = write_named(str(sandbox.root), layout, spec.build_contexts)
        pinned, bases = _pin(spec, sandbox, named, ctx, host_platform())
        stage_base_images(spec, sandbox, layout, ctx, bases)
        if spec.push or oci_layout:
            # Credential helpers run now, before any RUN step could change the chroot.
            for registry in dict.fromkeys(r.registry for r in spec.references):
                ctx.access.client.credential(registry)
    finally:
        ctx.access.credentials.root = None
    passthrough = executor_passthrough(ctx.env, ctx.helper_env.variables)
    return executor_invocation(
        spec, pinned, passthrough, oci_layout=oci_layout, ignore_paths=ignored_paths(injected)
    )


def pushed_image(spec: BuildSpec, pushed: PushResult, ctx: RunContext) -> BuiltImage:
    """The manifest kaniko pushed, read back from the registry for its media type, size and
    config digest (the image ID); only its digest, with a warning, when the registry does not
    tell."""
    if not spec.references:
        return BuiltImage(pushed.digest)
    from ..registry.client import RegistryRequestError

    ref = spec.references[0]
    client = ctx.access.client
    try:
        manifest = client.manifest(ref.registry, ref.repository, pushed.digest, IMAGE_MANIFESTS)
        config = client.config_digest_of(ref.registry, ref.repository, manifest)
    except RegistryRequestError as e:
        ctx.workflow.warning(f"the 'imageid' output stays empty: {e}")
        return BuiltImage(pushed.digest)
    return BuiltImage(pushed.digest, manifest.media_type, len(manifest.body), config)
