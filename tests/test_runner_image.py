"""The runner image (`Dockerfile`) builds, and works with the action, as a platform team would
use it: stand-ins for its two base images in the test registry (tests/support/runner_image.py),
the Dockerfile built by kaniko-build itself (run as root) with its ARGs pointed at them, the
result unpacked, and workflows run inside it through act as `runner` (uid 1001) that build and
push with the executor the image carries at /kaniko: one that uses the action directly, the
reusable workflow called from another workflow (workflow_call), and its workflow_dispatch
form, each with its inputs, and its outputs checked against the registry."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import executor_dir
from .support.act import (
    WORKFLOW,
    ActProject,
    ActRun,
    act_binary,
    parse_results,
    render_workflow,
)
from .support.action import ROOT, ActionHarness
from .support.actions_cache import local_repository
from .support.dockerd import Dockerd
from .support.hostcheck import HostSnapshot
from .support.images import busybox_layer
from .support.registry import Registry
from .support.runner_image import RootfsRunner, push_standins, unpack
from .support.runner_user import OFFICIAL_SUDOERS, RUNNER_UID, owned_by_root

pytestmark = [pytest.mark.e2e, pytest.mark.act]

IMAGE_REPO = "ci/kaniko-runner"
HOME = Path("/home/runner")
RUNNER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REUSABLE = ".github/workflows/build.yml"
LOGIN_USER = "pusher"
LOGIN_PASSWORD = "reusable-Pw-31x!"
# Ubuntu's and Debian's sudo leave ~/.sudo_as_admin_successful (the user's own file) the first
# time a member of the group sudo uses it; any job that runs sudo does the same.
SUDO_FLAG = ".sudo_as_admin_successful"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class BuiltImage:
    rootfs: Path
    build_output: str
    build_host_changes: list[str]
    digest_output: str

    def inside(self, path: Path) -> Path:
        return self.rootfs / path.relative_to("/")


@pytest.fixture(scope="module")
def runner_image(
    tmp_path_factory: pytest.TempPathFactory, registry: Registry, busybox_image: str
) -> BuiltImage:
    """The repository's Dockerfile built by the action (as root) against the stand-ins,
    unpacked, with act and what a container runtime provides (resolv.conf, hosts) added."""
    base = tmp_path_factory.mktemp("runner-image")
    runner_ref, executor_ref = push_standins(registry, executor_dir("fork"))
    harness = ActionHarness(base / "ws", base / "runner-temp", executor_dir("fork"))
    harness.workspace.mkdir()
    harness.runner_temp.mkdir()
    shutil.copy2(ROOT / "Dockerfile", harness.workspace / "Dockerfile")
    run = harness.run(
        tags=registry.ref(IMAGE_REPO, "1"),
        build_args=f"RUNNER_IMAGE={runner_ref}\nEXECUTOR_IMAGE={executor_ref}\n",
        insecure_registries=registry.host,
    )
    assert run.returncode == 0, run.stdout
    rootfs = unpack(registry, IMAGE_REPO, "1", base / "image")
    act = rootfs / "usr" / "local" / "bin" / "act"
    shutil.copy2(act_binary(), act)
    os.chmod(act, 0o755)
    shutil.copy2("/etc/resolv.conf", rootfs / "etc" / "resolv.conf")
    (rootfs / "etc" / "hosts").write_text(
        f"127.0.0.1\tlocalhost\n127.0.1.1\t{socket.gethostname()}\n", encoding="utf-8"
    )
    return BuiltImage(rootfs, run.stdout, run.host_changes, run.outputs.get("digest", ""))


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry.start(
        tmp_path_factory.mktemp("private"), users={LOGIN_USER: LOGIN_PASSWORD}
    ) as reg:
        reg.client().push_image("base/busybox", "latest", [busybox_layer()], {"Cmd": ["sh"]})
        yield reg


def test_dockerfile_builds_with_the_action_into_the_runner_layout(
    runner_image: BuiltImage, registry: Registry
) -> None:
    assert runner_image.build_host_changes == [], "\n".join(runner_image.build_host_changes)
    client = registry.client()
    assert runner_image.digest_output == client.get_manifest(IMAGE_REPO, "1").digest
    config = client.image_config(IMAGE_REPO, "1")["config"]
    assert config["User"] == "runner"
    assert config["WorkingDir"] == "/home/runner"
    # python3 came with the base: the Dockerfile installed nothing.
    assert "Reading package lists" not in runner_image.build_output
    rootfs = runner_image.rootfs
    kaniko = rootfs / "kaniko"
    st = os.lstat(kaniko)
    # The executor image's world-writable /kaniko became root's.
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o755)
    source = executor_dir("fork")
    for name in ("executor", "docker-credential-gcr", "docker-credential-ecr-login",
                 "docker-credential-acr-env"):  # fmt: skip
        assert sha256(kaniko / name) == sha256(source / name), name
        assert os.access(kaniko / name, os.X_OK)
    bundle = kaniko / "ssl" / "certs" / "ca-certificates.crt"
    assert bundle.read_bytes() == (source / "ssl" / "certs" / "ca-certificates.crt").read_bytes()
    assert (kaniko / ".docker").is_dir()
    assert (rootfs / "etc" / "sudoers").read_text() == OFFICIAL_SUDOERS
    sudo = os.lstat(rootfs / "usr" / "bin" / "sudo")
    assert sudo.st_uid == 0 and sudo.st_mode & stat.S_ISUID
    assert os.path.exists(rootfs / "usr" / "bin" / "python3")
    assert os.lstat(rootfs / "home" / "runner").st_uid == RUNNER_UID


@dataclass
class Workflow:
    """An ActProject in the runner's home inside the image, and act run there as uid 1001."""

    image: BuiltImage
    name: str

    def __post_init__(self) -> None:
        self.base = HOME / self.name
        self.image.inside(self.base).mkdir()
        self.project = ActProject(self.image.inside(self.base))

    @property
    def results(self) -> Path:
        """The results file as the job sees it."""
        return self.base / "reports" / "results"

    def run(self, event: str, workflow: str, *args: str) -> tuple[str, dict[str, list[str]]]:
        """Commit, hand everything to the runner, run act; returns act's log and what the
        workflow reported."""
        self.project.commit()
        top = self.image.inside(self.base)
        for dirpath, dirnames, filenames in os.walk(top):
            for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                os.chown(name, RUNNER_UID, RUNNER_UID, follow_symlinks=False)
        home = self.image.inside(HOME)
        before = HostSnapshot.take(self.project.repo, top)
        done = RootfsRunner(self.image.rootfs).run(
            [
                "act",
                event,
                "-W",
                workflow,
                "-P",
                "self-hosted=-self-hosted",
                "--pull=false",
                "--action-offline-mode",
                "--no-cache-server",
                "--action-cache-path",
                str(self.base / "act"),
                # The project's stand-in of actions/cache, as the job sees it.
                *local_repository(self.base / "actions-cache"),
                *args,
            ],
            uid=RUNNER_UID,
            env={
                "HOME": str(HOME),
                "USER": "runner",
                "PATH": RUNNER_PATH,
                "LANG": "C.UTF-8",
                "XDG_CACHE_HOME": str(self.base / "xdg" / "cache"),
                "XDG_CONFIG_HOME": str(self.base / "xdg" / "config"),
            },
            cwd=str(self.base / "repo"),
            timeout=600,
        )
        print(done.stdout)
        assert done.returncode == 0, done.stdout
        assert "Job succeeded" in done.stdout
        results_file = self.project.results_file
        results = parse_results(results_file.read_text()) if results_file.exists() else {}

        # Everything the jobs left (act's copy of the workspace, RUNNER_TEMP, outputs) is the
        # runner's, nothing else on the host changed, and the runner deletes it as uid 1001.
        assert owned_by_root(home) == []
        flag = home / SUDO_FLAG
        changes = [c for c in before.changes() if c != f"added: {flag}"]
        assert changes == [], "host changed:\n" + "\n".join(changes)
        assert not list(top.rglob("kaniko-build-*")), done.stdout
        deleted = RootfsRunner(self.image.rootfs).run(
            ["rm", "-rf", str(self.base)], uid=RUNNER_UID, env={"PATH": RUNNER_PATH},
            cwd=str(HOME), timeout=120,
        )  # fmt: skip
        assert deleted.returncode == 0, deleted.stdout
        assert not top.exists()
        return done.stdout, results


def test_action_in_the_runner_image_as_uid_1001(
    runner_image: BuiltImage, registry: Registry, busybox_image: str
) -> None:
    flow = Workflow(runner_image, "direct")
    flow.project.write(
        "Dockerfile", f"FROM {busybox_image}\nCOPY app.txt /srv/app.txt\nRUN id -u > /built-as\n"
    )
    flow.project.write("app.txt", "built inside the runner image\n")
    # No executor-dir: the action finds kaniko at /kaniko, where the image put it.
    inputs = {"tags": f"{registry.host}/act/in-image:1", "insecure-registries": registry.host}
    flow.project.write(WORKFLOW, render_workflow(inputs, flow.results))
    _log, results = flow.run("push", WORKFLOW)
    client = registry.client()
    assert results["digest"] == [client.get_manifest("act/in-image", "1").digest]
    files = client.image_files("act/in-image", "1")
    assert files["srv/app.txt"].text == "built inside the runner image\n"
    # RUN steps run as root inside kaniko's chroot, whatever the job's user.
    assert files["built-as"].text == "0\n"


CALLER = """\
name: caller
on: push
permissions:
  contents: read
jobs:
  image:
    uses: ./.github/workflows/build.yml
    with:
      context: app
      file: app/build.Dockerfile
      tags: |
        {private}/team/reusable:1
        {private}/team/reusable:latest
      push: true
      build-args: |
        BASE={base}
        RELEASE=1.2.3
      labels: org.opencontainers.image.title=reusable
      target: final
      insecure-registries: {registry},{private}
      runs-on: '["self-hosted"]'
      registry: {private}
      username: {user}
    secrets:
      password: ${{{{ secrets.REGISTRY_PASSWORD }}}}
  report:
    needs: image
    runs-on: self-hosted
    steps:
      - env:
          DIGEST: ${{{{ needs.image.outputs.digest }}}}
          IMAGE: ${{{{ needs.image.outputs.image }}}}
          RESULTS: {results}
        run: |
          echo "digest=$DIGEST" >> "$RESULTS"
          echo "image=$IMAGE" >> "$RESULTS"
"""

STAGED_DOCKERFILE = """\
ARG BASE
FROM ${BASE} AS first
ARG RELEASE
RUN echo "$RELEASE" > /release
FROM first AS final
COPY app.txt /srv/app.txt
FROM final AS never
RUN exit 1
"""


def reusable_project(flow: Workflow) -> None:
    flow.project.write(REUSABLE, (ROOT / REUSABLE).read_text(encoding="utf-8"))
    flow.project.write("app/build.Dockerfile", STAGED_DOCKERFILE)
    flow.project.write("app/app.txt", "from the reusable workflow\n")


def test_reusable_workflow_called_with_inputs_and_a_login_secret(
    runner_image: BuiltImage, registry: Registry, private: Registry, busybox_image: str
) -> None:
    flow = Workflow(runner_image, "reusable")
    reusable_project(flow)
    flow.project.write(
        ".github/workflows/caller.yml",
        CALLER.format(
            private=private.host,
            registry=registry.host,
            base=busybox_image,
            user=LOGIN_USER,
            results=flow.results,
        ),
    )
    log, results = flow.run(
        "push", ".github/workflows/caller.yml",
        # The workflow's `uses: org/kaniko-build@v3` is this checkout.
        "--local-repository", f"org/kaniko-build@v3={flow.base / 'repo'}",
        "-s", f"REGISTRY_PASSWORD={LOGIN_PASSWORD}",
    )  # fmt: skip
    assert LOGIN_PASSWORD not in log
    client = private.client()
    manifest = client.get_manifest("team/reusable", "1")
    assert client.get_manifest("team/reusable", "latest").digest == manifest.digest
    assert results["digest"] == [manifest.digest]
    assert results["image"] == [f"{private.host}/team/reusable@{manifest.digest}"]
    files = client.image_files("team/reusable", "1")
    assert files["release"].text == "1.2.3\n"
    assert files["srv/app.txt"].text == "from the reusable workflow\n"
    labels = client.image_config("team/reusable", "1")["config"]["Labels"]
    assert labels == {"org.opencontainers.image.title": "reusable"}


def test_reusable_workflow_dispatch_form(
    runner_image: BuiltImage, registry: Registry, busybox_image: str
) -> None:
    flow = Workflow(runner_image, "dispatch")
    reusable_project(flow)
    log, _results = flow.run(
        "workflow_dispatch", REUSABLE,
        "--local-repository", f"org/kaniko-build@v3={flow.base / 'repo'}",
        "--input", "context=app",
        "--input", "file=app/build.Dockerfile",
        "--input", f"tags={registry.host}/team/dispatched:1,{registry.host}/team/dispatched:2",
        "--input", "push=true",
        "--input", f"build-args=BASE={busybox_image}",
        "--input", "labels=org.opencontainers.image.title=dispatched",
        "--input", "target=first",
        "--input", f"insecure-registries={registry.host}",
        "--input", "runs-on=self-hosted",
    )  # fmt: skip
    client = registry.client()
    manifest = client.get_manifest("team/dispatched", "1")
    assert client.get_manifest("team/dispatched", "2").digest == manifest.digest
    # The action's own report of what it pushed.
    assert f"team/dispatched:2 as {manifest.digest}" in log
    files = client.image_files("team/dispatched", "1")
    # target=first: the stage with RELEASE unset; later stages not built.
    assert files["release"].text == "\n"
    assert "srv/app.txt" not in files
    labels = client.image_config("team/dispatched", "1")["config"]["Labels"]
    assert labels == {"org.opencontainers.image.title": "dispatched"}


CONTAINER_JOB = """\
name: build
on: push
permissions:
  contents: read
jobs:
  build:
    runs-on: self-hosted
    container:
      image: {image}
      options: --cap-add SYS_CHROOT --cap-add MKNOD{user}
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - name: Mark the container's state
        run: touch /tmp/.before && sleep 1
      - id: kaniko
        uses: ./
        with:
          push: true
          tags: {tag}
          insecure-registries: {insecure}
      - name: Report
        if: always()
        env:
          DIGEST: ${{{{ steps.kaniko.outputs.digest }}}}
        run: |
          echo "result digest=$DIGEST"
          echo "result workspace=$GITHUB_WORKSPACE"
          find / -xdev -newer /tmp/.before -not -path "$GITHUB_WORKSPACE/*" | sed 's/^/result changed=/'
          ps -eo args | grep -v grep | grep -e kaniko -e executor | sed 's/^/result process=/' || true
"""


@pytest.fixture(scope="module")
def dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dockerd]:
    with Dockerd.start(tmp_path_factory.mktemp("dockerd")) as daemon:
        yield daemon


def container_job(
    tmp_path: Path, daemon: Dockerd, registry: Registry, image: str, tag: str, user: str = ""
) -> tuple[ActRun, dict[str, list[str]]]:
    """A `container:` job whose steps act runs with `docker exec` in `image` (pulled from
    the test registry into the test's own daemon), as the image's user; its results, read
    from the job's log (the container's files are gone with it)."""
    daemon.docker("pull", "-q", image)
    project = ActProject(tmp_path, extra_env={"DOCKER_HOST": daemon.host}, extra_args=("--rm",))
    project.write(
        "Dockerfile", f"FROM {registry.ref('base/busybox', 'latest')}\nCOPY app.txt /srv/\n"
    )
    project.write("app.txt", "built in a job container\n")
    project.write(
        ".github/workflows/build.yml",
        CONTAINER_JOB.format(
            image=image, tag=tag, insecure=registry.host, user=f" --user {user}" if user else ""
        ),
    )
    run = project.run(timeout=600)
    results: dict[str, list[str]] = {}
    for line in run.log.splitlines():
        _, found, rest = line.partition("| result ")
        if found:
            name, _, value = rest.partition("=")
            results.setdefault(name, []).append(value.strip())
    assert run.host_changes == [], "\n".join(run.host_changes)
    assert daemon.containers() == [], "act left its job container"
    # What changed in the container while the action ran: the mtimes of / (act copies each
    # step's script into the container), of RUNNER_TEMP (/tmp: the work directory made and
    # removed) and sudo's first-use flag in the user's home. Nothing else.
    allowed = {"/", "/tmp", "/home/runner", f"/home/runner/{SUDO_FLAG}"}
    assert set(results.get("changed", [])) <= allowed, results["changed"]
    assert results.get("process") is None, results["process"]
    return run, results


@pytest.mark.parametrize("user", ["", "root"], ids=["as-runner", "as-root"])
def test_a_container_job_in_the_runner_image_builds_and_pushes(
    tmp_path: Path, runner_image: BuiltImage, dockerd: Dockerd, registry: Registry,
    busybox_image: str, user: str,
) -> None:  # fmt: skip
    """The runner image as the job's container, as its `runner` user through sudo and as
    root: the build runs in the container, outputs reach the next step, the container is
    left as found."""
    tag = registry.ref("team/in-container", user or "runner")
    image = registry.ref(IMAGE_REPO, "1")
    run, results = container_job(tmp_path, dockerd, registry, image, tag, user)
    assert run.returncode == 0, run.log
    client = registry.client()
    manifest = client.get_manifest("team/in-container", user or "runner")
    assert results["digest"] == [manifest.digest]
    assert client.image_files("team/in-container", user or "runner")["srv/app.txt"].text == (
        "built in a job container\n"
    )


def test_a_container_job_in_an_image_without_kaniko_is_told_which_image_to_use(
    tmp_path: Path, runner_image: BuiltImage, dockerd: Dockerd, registry: Registry,
    busybox_image: str,
) -> None:  # fmt: skip
    image = registry.ref("standin/actions-runner", "test")  # python3 and sudo, no /kaniko
    run, _ = container_job(tmp_path, dockerd, registry, image, registry.ref("team/no", "1"))
    assert run.returncode != 0
    assert "no kaniko executor at /kaniko/executor" in run.log
    assert "this job has `container:`, so every step, this one included, runs in that" in run.log
    assert "the runner image built from kaniko-build's Dockerfile" in run.log
    assert "team/no" not in registry.client().catalog()
