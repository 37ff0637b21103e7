"""Becoming root through sudo, and what a runner without root or sudo is told.

The real thing (the official image's sudoers, a user without sudo rights) is in
test_e2e_nonroot.py; these cover the pieces."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from kaniko_action.sandbox import privileges
from kaniko_action.sandbox.privileges import (
    REEXEC_MARK,
    PrivilegeError,
    audit_note,
    elevation_argv,
    ensure_root,
    no_root_message,
    pin_docker_config,
    probe_argv,
    probe_sudo,
)
from kaniko_action.utils.fs import hand_back
from kaniko_action.workflow.commands import Workflow

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


def test_elevation_keeps_interpreter_script_and_environment_and_writes_no_bytecode() -> None:
    argv = elevation_argv("/a/entrypoint.py", ["x"], "/usr/bin/sudo")
    assert argv == [
        "/usr/bin/sudo",
        "-n",
        "--preserve-env",
        sys.executable,
        "-I",
        "-B",
        "/a/entrypoint.py",
        "x",
    ]


def test_probe_asks_sudo_for_the_same_interpreter_and_environment() -> None:
    assert probe_argv("/usr/bin/sudo") == [
        "/usr/bin/sudo",
        "-n",
        "--preserve-env",
        sys.executable,
        "-I",
        "-c",
        "",
    ]


def test_docker_config_is_pinned_to_the_callers_home() -> None:
    env = {"HOME": "/home/runner"}
    pin_docker_config(env)
    assert env["DOCKER_CONFIG"] == "/home/runner/.docker"


@pytest.mark.parametrize("value", ["/home/runner/.config/auth", "relative/dir"])
def test_a_docker_config_the_job_set_is_kept(value: str) -> None:
    env = {"HOME": "/home/runner", "DOCKER_CONFIG": value}
    pin_docker_config(env)
    assert env["DOCKER_CONFIG"] == value


def test_no_root_message_says_what_to_do_and_what_the_official_image_has() -> None:
    message = no_root_message(54321, "there is no `sudo` on PATH")
    assert "runs as uid 54321 and there is no `sudo` on PATH" in message
    assert "Run the runner as root, or give its user passwordless sudo" in message
    assert "ghcr.io/actions/actions-runner" in message
    assert "`%sudo ALL=(ALL:ALL) NOPASSWD:ALL`" in message
    assert '`Defaults env_keep += "DEBIAN_FRONTEND"`' in message


def test_message_names_the_account_when_it_has_a_name() -> None:
    assert "runs as root (uid 0) and" in no_root_message(0, "x")


def test_without_sudo_on_path_the_error_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 54321)
    monkeypatch.setattr(privileges, "no_new_privs", lambda: False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(REEXEC_MARK, raising=False)
    with pytest.raises(PrivilegeError, match="there is no `sudo` on PATH") as raised:
        ensure_root("/a/entrypoint.py", [])
    assert raised.value.title == "Needs root"


def test_a_re_run_that_is_still_not_root_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 54321)
    monkeypatch.setenv(REEXEC_MARK, "123")
    with pytest.raises(PrivilegeError, match="the re-run through sudo did not become root"):
        ensure_root("/a/entrypoint.py", [])


def test_a_refusing_sudo_is_reported_before_the_re_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 54321)
    monkeypatch.setattr(privileges, "no_new_privs", lambda: False)
    monkeypatch.delenv(REEXEC_MARK, raising=False)
    monkeypatch.setattr(shutil, "which", lambda _name: "/bin/false")

    def no_exec(*_args: object) -> None:
        raise AssertionError("must not re-run through a sudo that refuses")

    monkeypatch.setattr(os, "execv", no_exec)
    with pytest.raises(PrivilegeError, match=r"`sudo -n` refused \(exit status 1\)"):
        ensure_root("/a/entrypoint.py", [])


def test_no_new_privs_is_read_from_the_status_file() -> None:
    assert privileges.no_new_privs("Name:\tpython3\nNoNewPrivs:\t1\nSeccomp:\t0\n")
    assert not privileges.no_new_privs("Name:\tpython3\nNoNewPrivs:\t0\n")
    assert not privileges.no_new_privs("Name:\tpython3\n")


def test_no_new_privs_is_explained_before_sudo_is_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 54321)
    monkeypatch.delenv(REEXEC_MARK, raising=False)
    monkeypatch.setattr(privileges, "no_new_privs", lambda: True)

    def no_probe(_sudo: str) -> tuple[str | None, list[str]]:
        raise AssertionError("sudo cannot help with no_new_privs set")

    monkeypatch.setattr(privileges, "probe_sudo", no_probe)
    with pytest.raises(PrivilegeError, match="allowPrivilegeEscalation: false"):
        ensure_root("/a/entrypoint.py", [])


def test_sudo_refusal_reports_what_sudo_said_not_its_host_name_warning(tmp_path: Path) -> None:
    # A program in sudo's place that answers as sudo does when the user may not use it.
    fake = tmp_path / "refuses"
    fake.write_text(
        "#!/bin/sh\n"
        "echo 'sudo: unable to resolve host vm: Name or service not known' >&2\n"
        "echo 'sudo: a password is required' >&2\n"
        "exit 1\n"
    )
    fake.chmod(0o755)
    assert probe_sudo(str(fake))[0] == "sudo: a password is required"


def test_sudo_refusal_is_none_when_the_command_runs() -> None:
    assert probe_sudo("/bin/true") == (None, [])


def test_sudo_refusal_reports_a_missing_program() -> None:
    assert probe_sudo("/nonexistent/sudo")[0] is not None


@needs_root
def test_sudos_audit_complaint_is_explained_once() -> None:
    """Without AUDIT_WRITE (CRI-O's default set) sudo complains into every job log."""
    import shutil
    import subprocess

    sudo = shutil.which("sudo")
    assert sudo is not None
    script = (
        "import json; from kaniko_action.sandbox.privileges import probe_sudo; "
        f"print(json.dumps(probe_sudo({sudo!r})))"
    )
    dropped = subprocess.run(
        ["capsh", "--drop=cap_audit_write", "--", "-c", f"{sys.executable} -c \"{script}\""],
        capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1],
    ).stdout  # fmt: skip
    refusal, said = json.loads(dropped)
    assert refusal is None
    note = audit_note(said)
    assert note is not None and "AUDIT_WRITE" in note and "harmless" in note
    assert audit_note(probe_sudo(sudo)[1]) is None


@needs_root
def test_hand_back_gives_the_file_to_the_directory_owner(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    directory.mkdir()
    os.chown(directory, 1001, 1001)
    with open(directory / "f", "w") as f:
        hand_back(f.fileno(), directory)
    st = os.stat(directory / "f")
    assert (st.st_uid, st.st_gid) == (1001, 1001)


@needs_root
def test_file_commands_root_creates_belong_to_the_runner(tmp_path: Path) -> None:
    commands = tmp_path / "_runner_file_commands"
    commands.mkdir()
    os.chown(commands, 1001, 1001)
    existing = commands / "summary"
    existing.write_text("")
    os.chown(existing, 1001, 1002)
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(commands / "output"),
        "GITHUB_STEP_SUMMARY": str(existing),
        # The re-run through sudo, which names the user it was called by.
        "SUDO_UID": "1001",
    }
    runner = Workflow(env)
    runner.set_output("digest", "sha256:0")
    runner.summary("done\n")
    created = os.stat(commands / "output")
    assert (created.st_uid, created.st_gid) == (1001, 1001)
    kept = os.stat(existing)
    assert (kept.st_uid, kept.st_gid) == (1001, 1002)
    assert existing.read_text() == "done\n"
