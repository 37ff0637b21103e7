"""End to end: build-push-action's `outputs` forms, in the workspace and elsewhere, and
`imageid` after a push."""

from __future__ import annotations

import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from .support.action import ActionHarness
from .support.elsewhere import elsewhere
from .support.hostcheck import snapshot_tree
from .support.registry import Registry
from .test_e2e_build import assert_clean, assert_pushed
from .test_e2e_parity import assert_clean_except_outputs

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_file_outputs_without_pushing(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN echo exported > /exported\n")
    run = harness.run(
        tags=f"{registry.host}/outputs/files:1",
        push="",
        insecure_registries=registry.host,
        outputs=(
            "type=docker,dest=out/image.tar\n"
            "type=oci,dest=out/image.oci.tar\n"
            "type=oci,dest=out/layout,tar=false\n"
        ),
    )
    assert run.returncode == 0, run.stdout
    # `push` is left out (build-push-action's default, false) and `outputs` names no
    # registry: nothing is pushed.
    assert registry.client().tags("outputs/files") == []
    out = harness.workspace / "out"
    with tarfile.open(out / "image.tar") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest[0]["RepoTags"] == [f"{registry.host}/outputs/files:1"]
    imageid = run.outputs["imageid"]
    assert manifest[0]["Config"].removeprefix("sha256:") == imageid.removeprefix("sha256:")
    with tarfile.open(out / "image.oci.tar") as tar:
        names = set(tar.getnames())
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        digest = index["manifests"][0]["digest"]
        image = json.loads(tar.extractfile(f"blobs/sha256/{digest[7:]}").read())  # type: ignore[union-attr]
    assert "oci-layout" in names
    assert image["config"]["digest"] == imageid
    assert all(f"blobs/sha256/{layer['digest'][7:]}" in names for layer in image["layers"])
    layout_index = json.loads((out / "layout" / "index.json").read_text())
    assert layout_index["manifests"][0]["digest"] == digest
    # Not pushed, but written as images: `digest` is set, as buildx's exporters set it.
    assert run.outputs["digest"] == digest
    assert "image" not in run.outputs
    assert run.outputs["tar-path"] == str(out / "image.tar")
    assert run.outputs["oci-layout-path"] == str(out / "layout")
    metadata = json.loads(run.outputs["metadata"])
    assert metadata["oci-tar-path"] == str(out / "image.oci.tar")
    assert metadata["containerimage.config.digest"] == imageid
    assert metadata["containerimage.descriptor"] == index["manifests"][0] | {"digest": digest}
    assert metadata["image.name"] == f"{registry.host}/outputs/files:1"
    assert_clean_except_outputs(run.host_changes, harness)


def test_registry_outputs_push_and_imageid_is_read_back(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN echo pushed > /pushed\n")
    repo = f"outputs/pushed-{harness.executor_dir.parent.name}"
    run = harness.run(
        tags=f"{registry.host}/{repo}:1",
        insecure_registries=registry.host,
        outputs=f'type=image,"name={registry.host}/{repo}:2",push=true',
    )
    assert_pushed(registry, run, repo, "1")
    assert sorted(registry.client().tags(repo)) == ["1", "2"]
    config_digest = registry.client().get_manifest(repo, "1").manifest["config"]["digest"]
    assert run.outputs["imageid"] == config_digest
    metadata = json.loads(run.outputs["metadata"])
    assert metadata["containerimage.config.digest"] == config_digest
    assert metadata["containerimage.digest"] == run.outputs["digest"]
    assert f"| Image ID | `{config_digest}` |" in run.summary
    assert_clean(run)


HOSTILE = """\
FROM {base}
RUN mkdir -p /.kaniko-build/out/oci && ln -s /etc /.kaniko-build/out/oci/blobs
"""


@pytest.mark.parametrize("harness", ["fork"], indirect=True)
@pytest.mark.parametrize(
    "inputs",
    [
        # Not pushed (`push` left out): with `push: true` kaniko pushes before the layout is
        # collected.
        {"outputs": "type=oci,dest=out/image.tar", "push": ""},
        {"outputs": "type=local,dest=out/fs", "push": ""},
        {"platforms": "linux/amd64,linux/386"},
    ],
    ids=["oci-tarball", "local", "two-platforms"],
)
def test_a_link_planted_in_the_layout_is_not_followed(
    harness: ActionHarness, registry: Registry, busybox_image: str, inputs: dict[str, str]
) -> None:
    """A RUN step turns the layout's blobs directory into a link to /etc: the runner's /etc
    must reach neither a tarball nor a registry."""
    harness.write("Dockerfile", HOSTILE.format(base=busybox_image))
    repo = "outputs/hostile"
    run = harness.run(tags=f"{registry.host}/{repo}:1", insecure_registries=registry.host, **inputs)
    assert run.returncode == 1
    (error,) = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert "refusing to collect the OCI layout" in error
    assert not (harness.workspace / "out").exists()
    assert registry.client().tags(repo) == []
    assert_clean(run)


FILESYSTEM = """\
FROM {base}
RUN echo hello > /hello && chmod 4755 /hello && mkdir /gone && echo x > /gone/f
RUN ln -s / /rootlink && ln -s {victim} /escape && rm -rf /gone
RUN rm /escape && mkdir /escape && echo inside > /escape/file
"""


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_local_and_tar_outputs_write_the_filesystem_without_following_its_links(
    harness: ActionHarness, registry: Registry, busybox_image: str, tmp_path: Path
) -> None:
    """A layer makes /escape a link to a runner directory, the next one a directory with a
    file in it: unpacking that naively writes the file into the runner's directory."""
    victim = tmp_path / "victim"
    victim.mkdir()
    harness.write("Dockerfile", FILESYSTEM.format(base=busybox_image, victim=victim))
    os.chown(harness.workspace, 1001, 1001)
    for path in harness.workspace.rglob("*"):
        os.chown(path, 1001, 1001, follow_symlinks=False)
    run = harness.run(
        push="",
        insecure_registries=registry.host,
        outputs="type=local,dest=out/fs\ntype=tar,dest=out/fs.tar",
    )
    assert run.returncode == 0, run.stdout
    assert list(victim.iterdir()) == []
    fs = harness.workspace / "out" / "fs"
    assert (fs / "hello").read_text() == "hello\n"
    assert stat.S_IMODE(os.stat(fs / "hello").st_mode) == 0o755  # setuid cleared
    assert os.readlink(fs / "rootlink") == "/"
    assert not (fs / "escape").is_symlink() and (fs / "escape" / "file").read_text() == "inside\n"
    assert not (fs / "gone").exists()  # the whiteout kaniko wrote
    assert (fs / "bin" / "busybox").is_file()  # the base image's layer
    for path in [harness.workspace / "out", fs, *fs.rglob("*")]:
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid) == (1001, 1001), path
        assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID), path
    with tarfile.open(harness.workspace / "out" / "fs.tar") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile("hello").read() == b"hello\n"  # type: ignore[union-attr]
        assert tar.extractfile("escape/file").read() == b"inside\n"  # type: ignore[union-attr]
    assert members["rootlink"].issym() and members["rootlink"].linkname == "/"
    assert members["escape"].isdir() and members["hello"].uid == 0
    assert not any(name == "gone" or name.startswith("gone/") for name in members)
    assert os.stat(harness.workspace / "out" / "fs.tar").st_uid == 1001
    metadata = json.loads(run.outputs["metadata"])
    # No image exporter ran: build-push-action sets neither output.
    assert "digest" not in run.outputs and "imageid" not in run.outputs
    assert not [k for k in metadata if k.startswith(("containerimage.", "image.name"))]
    assert metadata["local-dir"] == str(fs)
    assert metadata["rootfs-tar-path"] == str(harness.workspace / "out" / "fs.tar")
    assert "| Filesystem | `" in run.summary
    assert_clean_except_outputs(run.host_changes, harness)


@pytest.mark.parametrize("harness", ["fork"], indirect=True)
def test_cacheonly_builds_and_exports_nothing(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN echo built > /built\n")
    repo = "outputs/cacheonly"
    run = harness.run(
        tags=f"{registry.host}/{repo}:1",
        push="",
        insecure_registries=registry.host,
        outputs="type=cacheonly",
    )
    assert run.returncode == 0, run.stdout
    assert registry.client().tags(repo) == []
    assert "digest" not in run.outputs and "imageid" not in run.outputs
    assert sorted(os.listdir(harness.workspace)) == ["Dockerfile"]
    assert_clean(run)


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
@pytest.mark.parametrize(
    ("job", "directory", "owner"),
    [
        # Re-run through sudo by uid 1001: into a directory of its own, given to it.
        pytest.param({"SUDO_UID": "1001", "SUDO_GID": "1001"}, "mine", (1001, 1001), id="sudo"),
        # A job run as root: anywhere root may, given to the workspace's owner.
        pytest.param({}, "rootonly", (1001, 1002), id="root"),
    ],
)
def test_outputs_outside_the_workspace_as_docker_s_examples_write_them(
    harness: ActionHarness,
    registry: Registry,
    busybox_image: str,
    job: dict[str, str],
    directory: str,
    owner: tuple[int, int],
) -> None:
    """Docker's "Share built image between jobs" writes `type=docker,dest=/tmp/image.tar`
    for actions/upload-artifact; a type=local export goes beside it. Both are made in a
    directory under /tmp that is neither the workspace nor RUNNER_TEMP, their new parents
    with them, owned by the job's user; nothing else there or on the host changes."""
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN echo shared > /shared\n")
    os.chown(harness.workspace, 1001, 1002)
    for path in harness.workspace.rglob("*"):
        os.chown(path, 1001, 1002)
    files = harness.runner_temp.parent / "files"
    files.mkdir()
    for name in ("output", "summary"):  # the runner's file-command files are the job user's
        (files / name).write_text("")
        os.chown(files / name, 1001, 1001)
    harness.extra_env.update(job)
    with elsewhere() as shared:
        before = snapshot_tree(str(shared), recursive=True)
        base = shared / directory
        tarball, fs = base / "exports" / "image.tar", base / "fs"
        run = harness.run(
            tags=f"{registry.host}/outputs/elsewhere:1",
            push="",
            insecure_registries=registry.host,
            outputs=f"type=docker,dest={tarball}\ntype=local,dest={fs}",
        )
        assert run.returncode == 0, run.stdout
        with tarfile.open(tarball) as tar:
            manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert manifest[0]["RepoTags"] == [f"{registry.host}/outputs/elsewhere:1"]
        assert (fs / "shared").read_text() == "shared\n"
        assert (fs / "bin" / "busybox").is_file()
        made = [base / "exports", tarball, fs, *fs.rglob("*")]
        for path in made:
            st = os.lstat(path)
            assert (st.st_uid, st.st_gid) == owner, path
        assert stat.S_IMODE(os.lstat(tarball).st_mode) == 0o644
        assert run.outputs["tar-path"] == str(tarball)
        assert json.loads(run.outputs["metadata"])["local-dir"] == str(fs)
        after = snapshot_tree(str(shared), recursive=True)
        changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
        # The outputs and the directory made for them, nothing else: no hidden names left.
        assert changed == sorted(map(str, made))
        assert sorted(os.listdir(base)) == sorted(
            ["exports", "fs", *(["dir", "file.txt", "full", "link.tar"] if directory == "mine"
                                else ["layout"])]
        )  # fmt: skip
    assert_clean(run)
