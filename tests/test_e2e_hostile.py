"""A hostile pull request: a Dockerfile whose RUN steps (root in the chroot) plant links and
print workflow commands, and a workspace with committed links. Root on the runner must never
follow what the chroot or the pull request controls, and the runner must obey nothing the
build prints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .support.action import ActionHarness
from .support.elsewhere import JOB_UID, elsewhere
from .support.hostcheck import snapshot_tree
from .support.registry import Registry
from .support.workflow_commands import obeyed_commands

pytestmark = pytest.mark.e2e

SECRET = "HOST-SECRET-7f3a9c"


def plant_host_file(directory: Path, name: str, content: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(content)
    os.chmod(path, 0o600)
    return path


def assert_secret_absent(
    harness: ActionHarness, stdout: str, outputs: dict[str, str], summary: str
) -> None:
    assert SECRET not in stdout
    assert SECRET not in summary
    assert all(SECRET not in v for v in outputs.values())
    for path in harness.workspace.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("harness", ["upstream", "fork"], indirect=True)
def test_digest_file_replaced_by_a_link_to_a_runner_file(
    harness: ActionHarness, registry: Registry, busybox_image: str, tmp_path: Path
) -> None:
    """kaniko's output directory becomes a link to a runner directory whose `digest` holds a
    secret: the action refuses to read it instead of echoing it in an error."""
    host_dir = tmp_path / "host-side"
    plant_host_file(host_dir, "digest", f"{SECRET}\n")
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\n"
        f"RUN mkdir -p {host_dir} && rm -rf /.kaniko-build/out && ln -s {host_dir} /.kaniko-build/out\n",
    )
    run = harness.run(tags=f"{registry.host}/hostile/digest:1", insecure_registries=registry.host)
    assert run.returncode == 1, run.stdout
    assert "replaced by a link or special file" in run.stdout
    assert_secret_absent(harness, run.stdout, run.outputs, run.summary)
    assert "digest" not in run.outputs
    assert (host_dir / "digest").read_text() == f"{SECRET}\n"
    assert run.host_changes == []


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_image_name_file_replaced_by_a_link(
    harness: ActionHarness, registry: Registry, busybox_image: str, tmp_path: Path
) -> None:
    host_dir = tmp_path / "names"
    plant_host_file(host_dir, "names", f"evil.example/{SECRET}@sha256:{'0' * 64}\n")
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nRUN mkdir -p {host_dir} && "
        f"ln -s {host_dir}/names /.kaniko-build/out/image-name-with-digest\n",
    )
    run = harness.run(tags=f"{registry.host}/hostile/names:1", insecure_registries=registry.host)
    assert run.returncode == 1, run.stdout
    assert "image name file was replaced by a link" in run.stdout
    assert "image" not in run.outputs
    assert_secret_absent(harness, run.stdout, run.outputs, run.summary)
    assert run.host_changes == []


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_tarball_replaced_by_a_link_is_not_moved_into_the_workspace(
    harness: ActionHarness, registry: Registry, busybox_image: str, tmp_path: Path
) -> None:
    host_dir = tmp_path / "tar-side"
    planted = plant_host_file(host_dir, "image.tar", SECRET)
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\n"
        f"RUN mkdir -p {host_dir} && rm -rf /.kaniko-build/out && ln -s {host_dir} /.kaniko-build/out\n",
    )
    run = harness.run(tags=f"{registry.host}/hostile/tar:1", push="false", tar_path="out/image.tar")
    assert run.returncode == 1, run.stdout
    assert "refusing to collect /.kaniko-build/out/image.tar" in run.stdout
    assert not (harness.workspace / "out" / "image.tar").exists()
    assert planted.read_text() == SECRET
    assert_secret_absent(harness, run.stdout, run.outputs, run.summary)


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_dockerignore_beside_an_outside_dockerfile_is_not_followed(
    harness: ActionHarness, registry: Registry, busybox_image: str, tmp_path: Path
) -> None:
    """A committed `<Dockerfile>.dockerignore` linking to a root-only runner file: its
    content never reaches the chroot, where a RUN step could print it."""
    key = plant_host_file(tmp_path / "runner-secrets", "key", f"{SECRET}\n")
    harness.write("app/hello.txt", "hello\n")
    harness.write(
        "docker/app.Dockerfile",
        f"FROM {busybox_image}\nCOPY hello.txt /hello.txt\n"
        "RUN cat /.kaniko-build/dockerfile/app.Dockerfile.dockerignore || echo no-ignore-file\n",
    )
    (harness.workspace / "docker" / "app.Dockerfile.dockerignore").symlink_to(key)
    run = harness.run(push="false", context="app", file="docker/app.Dockerfile")
    assert run.returncode == 0, run.stdout
    assert "no-ignore-file" in run.stdout
    assert_secret_absent(harness, run.stdout, run.outputs, run.summary)
    assert run.host_changes == []


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_credential_helper_path_climbing_out_is_refused(
    harness: ActionHarness, registry: Registry, busybox_image: str, tmp_path: Path
) -> None:
    token = plant_host_file(tmp_path / "tokens", "token", "web-identity-token\n")
    climbing = "/" + "../" * 12 + str(token).lstrip("/")
    harness.write("Dockerfile", f"FROM {busybox_image}\n")
    harness.extra_env["AWS_WEB_IDENTITY_TOKEN_FILE"] = climbing
    run = harness.run(push="false")
    assert run.returncode == 1, run.stdout
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in run.stdout and "'..'" in run.stdout
    assert list(harness.runner_temp.iterdir()) == []
    assert run.host_changes == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("..", "holds the workspace"),
        ("linked-out/image.tar", "through a symlink, which is not inside"),
        ("{shared}/link/image.tar", "goes through the symlink"),
        ("{shared}/rootonly/image.tar", "(uid 1001) could write itself"),
        ("{shared}/sticky/other.tar", "belongs to uid 1002 in the sticky directory"),
    ],
)
@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_output_paths_that_lead_out_or_the_job_user_could_not_write_are_refused(
    harness: ActionHarness, busybox_image: str, tmp_path: Path, value: str, message: str
) -> None:
    """A committed link out of the workspace, a link elsewhere, and places the job's user
    (uid 1001, a re-run through sudo) could not write itself: refused before anything is
    made, nothing written anywhere."""
    linked = tmp_path / "linked"
    linked.mkdir()
    (harness.workspace / "linked-out").symlink_to(linked)
    harness.write("Dockerfile", f"FROM {busybox_image}\n")
    harness.extra_env.update({"SUDO_UID": str(JOB_UID), "SUDO_GID": str(JOB_UID)})
    with elsewhere() as shared:
        before = snapshot_tree(str(shared), recursive=True)
        for name in ("tar_path", "oci_layout_path"):
            inputs = {name: value.format(shared=shared)}
            run = harness.run(tags="registry.example.com/a/b:1", push="false", **inputs)
            assert run.returncode == 1, run.stdout
            assert f"input '{name.replace('_', '-')}'" in run.stdout and message in run.stdout
            assert run.host_changes == []
            assert list(linked.iterdir()) == []
            assert snapshot_tree(str(shared), recursive=True) == before
            assert list(harness.runner_temp.iterdir()) == []


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_outputs_and_their_new_parents_belong_to_the_workspace_owner(
    harness: ActionHarness, busybox_image: str
) -> None:
    """The runner (uid 1001 on the official image) must be able to delete what it gets."""
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN echo hi > /hi\n")
    (harness.workspace / "existing").mkdir()
    (harness.workspace / "existing" / "layout").mkdir()
    os.chown(harness.workspace, 1001, 1001)
    for path in harness.workspace.rglob("*"):
        os.chown(path, 1001, 1001, follow_symlinks=False)
    run = harness.run(
        tags="registry.example.com/a/b:1",
        push="false",
        tar_path="new/deeper/image.tar",
        oci_layout_path="existing/layout",
    )
    assert run.returncode == 0, run.stdout
    created = [
        harness.workspace / "new",
        harness.workspace / "new" / "deeper",
        harness.workspace / "new" / "deeper" / "image.tar",
        *(harness.workspace / "existing" / "layout").rglob("*"),
    ]
    assert (harness.workspace / "existing" / "layout" / "oci-layout").is_file()
    for path in created:
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid) == (1001, 1001), path
    # A second build replaces the layout it wrote, never another directory.
    again = harness.run(
        tags="registry.example.com/a/b:1", push="false", oci_layout_path="existing/layout"
    )
    assert again.returncode == 0, again.stdout
    harness.write("notalayout/keep.txt", "keep\n")
    refused = harness.run(
        tags="registry.example.com/a/b:1", push="false", oci_layout_path="notalayout"
    )
    assert refused.returncode == 1
    assert "is never replaced" in refused.stdout
    assert (harness.workspace / "notalayout" / "keep.txt").read_text() == "keep\n"


INJECTED_COMMANDS = (
    "::add-mask::Running",
    "::error file=Dockerfile,line=1::injected error",
    "::warning::injected warning",
    "::set-output name=digest::sha256:" + "e" * 64,
    "::stop-commands::attacker",
    "::group::injected group",
)


@pytest.mark.parametrize("harness", ["upstream", "fork"], indirect=True)
def test_workflow_commands_printed_by_the_build_are_not_obeyed(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    lines = "; ".join(f"echo '{c}'" for c in INJECTED_COMMANDS)
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nRUN {lines}; printf 'cr\\r::error::after-cr\\n'\n"
        "RUN echo fine\nRUN exit 4\n",
    )
    run = harness.run(tags=f"{registry.host}/hostile/cmds:1", insecure_registries=registry.host)
    assert run.returncode == 1
    for command in INJECTED_COMMANDS:
        assert command in run.stdout  # shown, as the build printed it
    obeyed = obeyed_commands(run.stdout)
    names = [c.name for c in obeyed]
    assert "add-mask" not in names and "set-output" not in names and "warning" not in names
    errors = [c for c in obeyed if c.name == "error"]
    # Only the action's own annotation, pointing at the failing instruction.
    assert len(errors) == 1, errors
    assert errors[0].properties.get("file") == "Dockerfile"
    assert errors[0].properties.get("line") == "4"
    groups = [c.message for c in obeyed if c.name == "group"]
    assert groups[:3] == ["Resolve inputs", "Stage", "Build"]
    assert "injected group" not in groups
