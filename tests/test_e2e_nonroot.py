"""End to end as the official runner image runs jobs: the action's composite step started as
`runner` (uid 1001, groups sudo and docker) under exactly that image's /etc/sudoers, with
HOME=/home/runner and credentials where docker/login-action leaves them, in a private mount
namespace (tests/support/runner_user.py). And as a user without sudo rights: a clear error.

After every build: nothing in the workspace or RUNNER_TEMP belongs to root, every output and
every directory the action created belongs to the workspace's owner (outside the workspace
and RUNNER_TEMP, to the runner user, and only where it could write itself), the runner
deletes all of it as uid 1001, and ~/.docker, ~/.cache and the tool cache are as they were.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaniko_action.sandbox.privileges import elevation_argv

from .conftest import executor_dir
from .support.hostcheck import HostSnapshot, executor_processes
from .support.images import busybox_layer
from .support.registry import Registry
from .support.runner_user import (
    GUEST_UID,
    OFFICIAL_SUDOERS,
    RUNNER_GID,
    RUNNER_PATH,
    RUNNER_UID,
    Job,
    RunnerMachine,
    StepRun,
    docker_login_config,
    owned_by,
    owned_by_root,
    tree_state,
)

pytestmark = pytest.mark.e2e

REGISTRY_USER = "ci"
REGISTRY_PASSWORD = "runner-pw-7Hq!x2"
# A policy as Debian's and Ubuntu's default sudoers file writes it, made passwordless, with
# `always_set_home`: sudo points HOME at root's home even when the environment is kept.
SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin"
RESETTING_SUDOERS = (
    "Defaults env_reset\n"
    f'Defaults secure_path="{SECURE_PATH}"\n'
    "Defaults always_set_home\n"
    "%sudo ALL=(ALL:ALL) NOPASSWD:ALL\n"
)


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry that wants a login for pulls and pushes alike."""
    with Registry.start(
        tmp_path_factory.mktemp("private"), users={REGISTRY_USER: REGISTRY_PASSWORD}
    ) as reg:
        reg.client().push_image("base/busybox", "latest", [busybox_layer()], {"Cmd": ["sh"]})
        yield reg


def runner_home(machine: RunnerMachine, registry: Registry, docker_config: str) -> None:
    """What a job finds in the runner's home: docker/login-action's credentials in
    `docker_config`, a pip cache, and a tool cache entry."""
    machine.mkdir(docker_config, RUNNER_UID, mode=0o700)
    machine.write(
        f"{docker_config}/config.json",
        docker_login_config(registry.host, REGISTRY_USER, REGISTRY_PASSWORD),
        mode=0o600,
    )
    machine.write("/home/runner/.cache/pip/http-v2/entry", "cached wheel index\n")
    machine.write(
        "/home/runner/_work/_tool/Python/3.12.4/x64/bin/python3", "#!/bin/sh\n", mode=0o755
    )
    machine.write("/home/runner/_work/_tool/Python/3.12.4/x64.complete", "")


def dependencies(job: Job) -> dict[str, dict[str, tuple[int, int, int, int, str]]]:
    return {
        path: tree_state(job.host(path))
        for path in (
            f"{job.home}/.docker",
            f"{job.home}/.config",
            f"{job.home}/.cache",
            job.tool_cache,
        )
    }


def assert_left_to_the_runner(job: Job) -> None:
    """Nothing root-owned in the workspace, RUNNER_TEMP or the action's directory, and the
    runner deletes all of it as uid 1001."""
    workspace, temp = job.host(job.workspace), job.host(job.runner_temp)
    action = job.host(job.action_path)
    for top in (workspace, temp, action):
        assert owned_by_root(top) == [], f"root-owned under {top}"
    deleted = job.machine.delete_contents([job.workspace, job.runner_temp, job.action_path])
    assert deleted.returncode == 0, deleted.stdout
    for top in (workspace, temp, action):
        assert os.listdir(top) == [], f"uid {RUNNER_UID} could not empty {top}"


def assert_untouched(job: Job, before: HostSnapshot, outputs: tuple[Path, ...] = ()) -> None:
    """The host as it was, apart from the outputs asked for and what the runner itself put in
    RUNNER_TEMP for the step (its script, the file-command files). Checked before the runner
    deletes the workspace."""
    temp = job.host(job.runner_temp)
    expected = (*outputs, temp / "_runner_file_commands")

    def allowed(change: str) -> bool:
        path = Path(change.split(": ", 1)[1])
        return any(path == o or o in path.parents for o in expected) or (
            path.parent == temp and path.suffix == ".sh"
        )

    changes = [c for c in before.changes() if not allowed(c)]
    assert changes == [], "host changed:\n" + "\n".join(changes)


SHOW_ENVIRONMENT = "import json, os; print(json.dumps(dict(os.environ)))"


@pytest.mark.parametrize(
    ("sudoers", "home", "path"),
    [
        pytest.param(OFFICIAL_SUDOERS, "/home/runner", RUNNER_PATH, id="official"),
        pytest.param(RESETTING_SUDOERS, "/root", SECURE_PATH, id="resetting"),
    ],
)
def test_what_the_sudo_re_run_keeps_of_the_environment(
    tmp_path: Path, sudoers: str, home: str, path: str
) -> None:
    """The re-run's sudo (privileges.elevation_argv) under a real sudoers policy: the
    inputs (hyphenated names too), the runner's file commands and DOCKER_CONFIG survive;
    HOME and PATH survive the official policy, and a resetting one replaces them."""
    machine = RunnerMachine(tmp_path, sudoers=sudoers)
    env = {
        "PATH": RUNNER_PATH,
        "HOME": "/home/runner",
        "DOCKER_CONFIG": "/home/runner/.docker",
        "INPUT_BUILD-ARGS": "A=1\nB=two words",
        "INPUT_TAGS": "registry.example.com/team/app:1",
        "GITHUB_OUTPUT": "/home/runner/_work/_temp/_runner_file_commands/set_output_1",
        "GITHUB_WORKSPACE": "/home/runner/_work/app/app",
        "RUNNER_TEMP": "/home/runner/_work/_temp",
        "DEBIAN_FRONTEND": "noninteractive",
    }
    # The re-run's sudo options, with a program that prints the environment it got.
    sudo_options = elevation_argv("entrypoint.py", [], "sudo")[:3]
    assert sudo_options == ["sudo", "-n", "--preserve-env"]
    argv = [*sudo_options, "/usr/bin/python3", "-c", SHOW_ENVIRONMENT]
    done = machine.run(argv, env=env)
    assert done.returncode == 0, done.stdout
    seen = json.loads(done.stdout.splitlines()[-1])
    for name in ("DOCKER_CONFIG", "INPUT_BUILD-ARGS", "INPUT_TAGS", "GITHUB_OUTPUT",
                 "GITHUB_WORKSPACE", "RUNNER_TEMP", "DEBIAN_FRONTEND"):  # fmt: skip
        assert seen.get(name) == env[name], name
    assert seen["HOME"] == home
    assert seen["PATH"] == path
    assert seen["SUDO_USER"] == "runner"
    assert seen["SUDO_UID"] == str(RUNNER_UID)


@pytest.mark.parametrize("kind", ["fork", "upstream"])
def test_runner_with_official_sudoers_builds_pushes_and_leaves_it_all_deletable(
    tmp_path: Path, private: Registry, kind: str
) -> None:
    machine = RunnerMachine(tmp_path)
    assert (machine.etc / "sudoers").read_text() == OFFICIAL_SUDOERS
    runner_home(machine, private, "/home/runner/.docker")
    job = Job(machine)
    job.write(
        "docker/Dockerfile",
        f"FROM {private.host}/base/busybox:latest\n"
        "ARG GREETING\nARG TOKEN\n"
        'RUN echo "$GREETING" > /greeting && echo "${#TOKEN}" > /token-length\n'
        "COPY app.txt /srv/app.txt\n",
    )
    job.write("docker/app.txt", "from the runner\n")
    before_deps = dependencies(job)
    before = HostSnapshot.take(job.host(job.workspace), job.host(job.runner_temp))

    run = job.step(
        context="docker",
        tags=f"{private.host}/team/app:1",
        build_args="GREETING=hello from uid 1001\nTOKEN=abc=def",
        insecure_registries=private.host,
        tar_path="out/image.tar",
        oci_layout_path=f"{job.runner_temp}/layouts/app",
        executor_dir=str(executor_dir(kind)),
    )

    assert run.returncode == 0, run.stdout
    assert run.errors == []
    # Credentials from ~/.docker/config.json reached the executor through sudo: the registry
    # refuses anonymous pulls and pushes.
    client = private.client()
    manifest = client.get_manifest("team/app", "1")
    assert run.outputs["digest"] == manifest.digest
    files = client.image_files("team/app", "1")
    # INPUT_BUILD-ARGS (a name with a hyphen) survived sudo.
    assert files["greeting"].text == "hello from uid 1001\n"
    assert files["token-length"].text == "7\n"
    assert files["srv/app.txt"].text == "from the runner\n"

    # The tarball and the layout, and every directory made for them, are the runner's.
    workspace = job.host(job.workspace)
    tarball = workspace / "out" / "image.tar"
    assert run.outputs["tar-path"] == f"{job.workspace}/out/image.tar"
    with tarfile.open(tarball) as tar:
        assert "manifest.json" in tar.getnames()
    assert owned_by(workspace / "out", RUNNER_UID, RUNNER_GID) == []
    layouts = job.host(job.runner_temp) / "layouts"
    assert (layouts / "app" / "index.json").is_file()
    assert owned_by(layouts, RUNNER_UID, RUNNER_GID) == []
    # The file commands stay the runner's files.
    commands = job.host(job.runner_temp) / "_runner_file_commands"
    assert owned_by(commands, RUNNER_UID, RUNNER_GID) == []

    assert dependencies(job) == before_deps
    assert_untouched(job, before, (workspace / "out", layouts))
    assert_left_to_the_runner(job)


@pytest.mark.parametrize(
    ("sudoers", "docker_config"),
    [
        pytest.param(OFFICIAL_SUDOERS, "/home/runner/.config/registry-auth", id="DOCKER_CONFIG"),
        pytest.param(RESETTING_SUDOERS, "", id="policy-resets-HOME"),
    ],
)
def test_credentials_reach_the_executor_whatever_sudo_does_to_home(
    tmp_path: Path, private: Registry, sudoers: str, docker_config: str
) -> None:
    """DOCKER_CONFIG set by the job is followed; without it, `~/.docker` of the job's user is
    read even under a policy that gives the re-run root's HOME and PATH."""
    machine = RunnerMachine(tmp_path, sudoers=sudoers)
    runner_home(machine, private, docker_config or "/home/runner/.docker")
    if docker_config:
        # A decoy where HOME would lead: it must not be the one used.
        machine.mkdir("/home/runner/.docker", RUNNER_UID, mode=0o700)
        machine.write(
            "/home/runner/.docker/config.json",
            docker_login_config(private.host, REGISTRY_USER, "wrong-password"),
            mode=0o600,
        )
    job = Job(machine, extra_env={"DOCKER_CONFIG": docker_config} if docker_config else {})
    job.write("Dockerfile", f"FROM {private.host}/base/busybox:latest\nRUN echo ok > /ok\n")
    before_deps = dependencies(job)
    before = HostSnapshot.take(job.host(job.workspace), job.host(job.runner_temp))

    run = job.step(
        tags=f"{private.host}/team/home:1",
        insecure_registries=private.host,
        executor_dir=str(executor_dir("fork")),
    )

    assert run.returncode == 0, run.stdout
    assert run.outputs["digest"] == private.client().get_manifest("team/home", "1").digest
    assert private.client().image_files("team/home", "1")["ok"].text == "ok\n"
    assert dependencies(job) == before_deps
    assert_untouched(job, before)
    assert_left_to_the_runner(job)


def test_user_without_sudo_rights_gets_a_clear_error_and_nothing_is_created(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    job = Job(RunnerMachine(tmp_path), user="guest", uid=GUEST_UID)
    error, run = runner_refused(job, registry, busybox_image)
    assert run.summary == ""
    assert error.startswith("::error title=Needs root::")
    assert "runs as guest (uid 1002)" in error
    assert "sudo: a password is required" in error
    assert "Run the runner as root, or give its user passwordless sudo" in error
    assert "%sudo ALL=(ALL:ALL) NOPASSWD:ALL" in error


def runner_refused(
    job: Job, registry: Registry, busybox_image: str, **inputs: str
) -> tuple[str, StepRun]:
    """Run a build (with `inputs` besides) that must be refused before anything is made;
    returns the one error, as the runner shows it (%25 -> %, %0D -> CR, %0A -> LF), and the
    run."""
    job.write("Dockerfile", f"FROM {busybox_image}\nRUN echo never > /never\n")
    workspace_before = tree_state(job.host(job.workspace))
    run = job.step(
        tags=f"{registry.host}/team/refused:1",
        insecure_registries=registry.host,
        executor_dir=str(executor_dir("fork")),
        **inputs,
    )
    assert run.returncode == 1, run.stdout
    assert len(run.errors) == 1, run.stdout
    assert run.outputs == {}
    assert tree_state(job.host(job.workspace)) == workspace_before
    # RUNNER_TEMP holds what the runner put there for the step (its script and the
    # file-command files), nothing else.
    temp = job.host(job.runner_temp)
    left = sorted(p.relative_to(temp).as_posix() for p in temp.rglob("*"))
    assert [
        p for p in left if not (p.endswith(".sh") or p.startswith("_runner_file_commands"))
    ] == []
    assert owned_by_root(job.host(f"{job.home}/_work")) == []
    assert "team/refused" not in registry.client().catalog()
    return run.errors[0].replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%"), run


def test_an_output_where_the_runner_could_not_write_is_refused_through_sudo(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """Root writes outside the workspace only what uid 1001 could write itself: not into a
    directory of root's (0755), though the re-run as root could."""
    machine = RunnerMachine(tmp_path)
    shared = machine.mkdir("/home/shared", 0, mode=0o755)
    job = Job(machine)
    error, _run = runner_refused(
        job, registry, busybox_image, outputs="type=docker,dest=/home/shared/out/image.tar"
    )
    assert error.startswith("::error title=Invalid input::input 'outputs': "), error
    assert (
        "'/home/shared/out/image.tar': outside the workspace and RUNNER_TEMP the action writes "
        f"only what the job's user (uid {RUNNER_UID}) could write itself, and /home/shared "
        "(uid 0, gid 0, mode 755) does not let it create out"
    ) in error
    assert list(shared.iterdir()) == []


def test_outputs_outside_the_workspace_are_the_runner_s_through_sudo(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """`type=docker,dest=~/exports/image.tar` and a type=local beside it, outside the
    workspace and RUNNER_TEMP: made as root for uid 1001 (SUDO_UID, SUDO_GID), which owns
    them and deletes them."""
    machine = RunnerMachine(tmp_path)
    job = Job(machine)
    job.write("Dockerfile", f"FROM {busybox_image}\nRUN echo exported > /exported\n")
    before = HostSnapshot.take(job.host(job.workspace), job.host(job.runner_temp))
    run = job.step(
        tags=f"{registry.host}/team/exported:1",
        push="",
        insecure_registries=registry.host,
        outputs=f"type=docker,dest={job.home}/exports/image.tar\n"
        f"type=local,dest={job.home}/exports/fs",
        executor_dir=str(executor_dir("fork")),
    )
    assert run.returncode == 0, run.stdout
    exports = job.host(f"{job.home}/exports")
    with tarfile.open(exports / "image.tar") as tar:
        assert "manifest.json" in tar.getnames()
    assert (exports / "fs" / "exported").read_text() == "exported\n"
    assert run.outputs["tar-path"] == f"{job.home}/exports/image.tar"
    assert owned_by(exports, RUNNER_UID, RUNNER_GID) == []
    assert sorted(os.listdir(exports)) == ["fs", "image.tar"]
    assert_untouched(job, before, (exports,))
    deleted = machine.delete_contents([f"{job.home}/exports"])
    assert deleted.returncode == 0, deleted.stdout
    assert os.listdir(exports) == []
    assert_left_to_the_runner(job)


def test_no_new_privileges_is_explained(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """A pod with allowPrivilegeEscalation: false (Pod Security "restricted") runs the job with
    no_new_privs: sudo cannot become root."""
    job = Job(RunnerMachine(tmp_path), setpriv=("--no-new-privs",))
    error, _run = runner_refused(job, registry, busybox_image)
    assert error.startswith("::error title=Needs root::")
    assert "runs as runner (uid 1001)" in error
    assert "with no_new_privs set, so sudo cannot become root" in error
    assert "allowPrivilegeEscalation: false" in error
    assert "Allow privilege escalation for the runner container" in error


def test_missing_capabilities_are_named_with_the_fix(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """A runtime that does not grant SYS_CHROOT and MKNOD (CRI-O): sudo works, but root
    cannot chroot or make device nodes. Nor AUDIT_WRITE, of which sudo complains: that is
    said to be harmless, once."""
    job = Job(RunnerMachine(tmp_path), setpriv=("--bounding-set=-sys_chroot,-mknod,-audit_write",))
    error, run = runner_refused(job, registry, busybox_image)
    assert "lacks the SYS_CHROOT and MKNOD capabilities" in error
    assert "; add them to the runner container" in error
    assert run.stdout.count("AUDIT_WRITE capability (CRI-O's default set)") == 1, run.stdout
    assert "securityContext.capabilities.add: [SYS_CHROOT, MKNOD]" in error


def test_the_runner_cancels_a_build_that_runs_through_sudo(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """The runner, as uid 1001, sends SIGINT to the step's process, which is sudo by then:
    sudo relays it to the action, which stops the build and cleans up as root."""
    machine = RunnerMachine(tmp_path)
    job = Job(machine)
    job.write("Dockerfile", f"FROM {busybox_image}\nRUN sleep 300 & sleep 301\n")
    before = HostSnapshot.take(job.host(job.workspace), job.host(job.runner_temp))
    step = job.start(
        tags=f"{registry.host}/team/cancelled:1",
        insecure_registries=registry.host,
        executor_dir=str(executor_dir("fork")),
    )
    assert step.stdout is not None
    seen: list[str] = []
    for line in step.stdout:
        seen.append(line)
        if "Running: [/bin/sh -c" in line:
            break
    assert Path(f"/proc/{step.pid}/comm").read_text().strip() == "sudo", "".join(seen)
    kill = machine.run(["kill", "-INT", str(step.pid)])
    assert kill.returncode == 0, kill.stdout
    started = time.monotonic()
    rest, _ = step.communicate(timeout=60)
    output = "".join(seen) + rest
    print(output)
    assert step.returncode == 128 + signal.SIGINT, output
    assert time.monotonic() - started < 5, output
    assert "::error title=Cancelled::cancelled by signal 2" in output
    assert executor_processes(job.host(job.runner_temp)) == []
    assert not list(job.host(job.runner_temp).glob("kaniko-build-*"))
    assert "team/cancelled" not in registry.client().catalog()
    assert_untouched(job, before)
    assert_left_to_the_runner(job)


def test_the_sudo_re_run_ignores_what_the_runner_user_controls_of_python(
    tmp_path: Path, registry: Registry
) -> None:
    """The runner user's own site-packages (a `.pth` file runs at start-up) and PYTHON*
    variables, which sudo keeps, must not reach the re-run as root."""
    machine = RunnerMachine(tmp_path)
    version = subprocess.run(
        ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        env={"PATH": RUNNER_PATH}, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    seen = machine.mkdir("/home/runner/seen", RUNNER_UID, mode=0o777)
    hook = "import os; open('/home/runner/seen/euid-%d' % os.geteuid(), 'w').close()\n"
    machine.write(f"/home/runner/.local/lib/python{version}/site-packages/hook.pth", hook)
    machine.write("/home/runner/startup.py", hook)
    job = Job(machine, extra_env={"PYTHONSTARTUP": "/home/runner/startup.py",
                                  "PYTHONINSPECT": "1"})  # fmt: skip
    run = job.step(push="maybe", tags=f"{registry.host}/team/never:1")
    assert run.returncode == 1, run.stdout
    assert "input 'push'" in run.stdout
    assert "Needs root" not in run.stdout  # it became root, then refused the input
    assert "euid-0" not in {p.name for p in seen.iterdir()}, sorted(os.listdir(seen))
