"""What a runner that cannot build is told, before anything is created: missing capabilities
(as under CRI-O), a work directory on a nodev/noexec/small volume."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support.action import ActionHarness
from .support.registry import Registry

pytestmark = pytest.mark.e2e


def in_namespace_with_tmpfs(runner_temp: Path, options: str) -> list[str]:
    """Run the action in a mount namespace of its own, RUNNER_TEMP a tmpfs with `options`."""
    script = f'mount -t tmpfs -o {options} kaniko-build-test "{runner_temp}" && exec "$@"'
    # bash, not sh: dash drops INPUT_EXECUTOR-DIR and the other hyphenated variables.
    return ["unshare", "--mount", "--propagation", "private", "bash", "-c", script, "bash"]


@pytest.mark.parametrize(
    ("capability", "named"),
    [("cap_sys_chroot", "SYS_CHROOT"), ("cap_mknod", "MKNOD")],
)
@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_missing_capability_is_named_with_the_fix(
    harness: ActionHarness, busybox_image: str, capability: str, named: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\n")
    harness.wrapper = ["capsh", f"--drop={capability}", "--", "-c", 'exec "$0" "$@"']
    run = harness.run(push="false")
    assert run.returncode == 1, run.stdout
    assert f"lacks the {named} capability" in run.stdout
    assert "securityContext.capabilities.add: [SYS_CHROOT, MKNOD]" in run.stdout
    assert "Traceback" not in run.stdout
    assert list(harness.runner_temp.iterdir()) == []
    assert run.host_changes == []


@pytest.mark.parametrize(("option", "named"), [("nodev", "nodev"), ("noexec", "noexec")])
@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_work_volume_mounted_nodev_or_noexec_is_refused(
    harness: ActionHarness, busybox_image: str, option: str, named: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\n")
    harness.wrapper = in_namespace_with_tmpfs(harness.runner_temp, f"{option},size=512m")
    run = harness.run(push="false")
    assert run.returncode == 1, run.stdout
    assert f"mounted {named}" in run.stdout
    assert "RUNNER_TEMP" in run.stdout
    assert run.host_changes == []


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_too_little_free_space_is_refused_before_staging(
    harness: ActionHarness, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\nCOPY big.bin /big.bin\n")
    (harness.workspace / "big.bin").write_bytes(b"\x01" * (8 * 1024 * 1024))
    harness.wrapper = in_namespace_with_tmpfs(harness.runner_temp, "size=48m")
    run = harness.run(push="false")
    assert run.returncode == 1, run.stdout
    assert "not enough free space" in run.stdout
    assert ".dockerignore" in run.stdout
    assert run.host_changes == []


@pytest.mark.parametrize("harness", ["upstream", "fork"], indirect=True)
def test_work_volume_on_another_filesystem_builds(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    """RUNNER_TEMP on a volume of its own (as pods mount it): the build works and its
    tarball is copied across filesystems into the workspace."""
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN echo on-a-volume > /v\n")
    harness.wrapper = in_namespace_with_tmpfs(harness.runner_temp, "size=512m")
    run = harness.run(
        tags=f"{registry.host}/preflight/volume:1",
        insecure_registries=registry.host,
        tar_path="out/image.tar",
    )
    assert run.returncode == 0, run.stdout
    assert (harness.workspace / "out" / "image.tar").stat().st_size > 0
    assert run.outputs["imageid"].startswith("sha256:")
    assert registry.client().tags("preflight/volume") == ["1"]


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_running_out_of_space_while_staging_is_explained(
    harness: ActionHarness, busybox_image: str
) -> None:
    """Room for kaniko's files, not for the context: the filesystem fills up while the
    context is staged, and the user is told so, with nothing left behind."""
    harness.write("Dockerfile", f"FROM {busybox_image}\nCOPY big.bin /big.bin\n")
    chunk = b"\x01" * (1024 * 1024)
    with (harness.workspace / "big.bin").open("wb") as f:
        for _ in range(220):
            f.write(chunk)
    harness.wrapper = in_namespace_with_tmpfs(harness.runner_temp, "size=200m")
    run = harness.run(push="false")
    assert run.returncode == 1, run.stdout
    assert "not enough free space" in run.stdout and "for the build context" in run.stdout
    assert "Traceback" not in run.stdout
    assert run.host_changes == []
