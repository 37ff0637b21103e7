"""Becoming root: chroot and mknod need it.

The official runner image runs jobs as `runner` (uid 1001, groups sudo and docker) with an
/etc/sudoers of exactly `%sudo ALL=(ALL:ALL) NOPASSWD:ALL` and
`Defaults env_keep += "DEBIAN_FRONTEND"`. A non-root run therefore re-executes itself through
`sudo -n --preserve-env`: that policy resets the environment by default (env_reset), but a
command matched by `ALL` may keep it (-E), so the inputs (`INPUT_BUILD-ARGS` and the other
hyphenated names included), the runner's file commands and HOME reach the re-run. Two things
do not depend on the policy: the runner's docker config directory is named in DOCKER_CONFIG
before the re-run (a policy with `always_set_home` would point HOME at root's home), and
whether sudo works at all is tried first, so a runner without root and without passwordless
sudo gets a message that says what to do instead of sudo's own.

This runs before anything else of the action (main.py): it imports what it needs when it needs
it, so that a run that is root already, or is about to be re-run through sudo, pays for none.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping, Sequence

from ..errors import ActionError
from ..utils.linux import status_field

REEXEC_MARK = "KANIKO_BUILD_ELEVATED"
OFFICIAL_SUDOERS = ("%sudo ALL=(ALL:ALL) NOPASSWD:ALL", 'Defaults env_keep += "DEBIAN_FRONTEND"')
PROBE_TIMEOUT_SECONDS = 30.0
# What sudo prints, and goes on, when it may not write to the kernel's audit log.
AUDIT = "unable to send audit message"


class PrivilegeError(ActionError):
    """Neither root nor passwordless sudo."""

    title = "Needs root"
    lacks_on_runner = True


def elevation_argv(script: str, argv: Sequence[str], sudo: str) -> list[str]:
    """`sudo` keeping the environment (inputs, GITHUB_* files) for the same interpreter.

    `-I` (isolated mode): sudo keeps the runner user's HOME and PYTHON* variables, so without
    it root would import the user's own site-packages (a `.pth` file there runs at start-up)
    and obey PYTHONSTARTUP, PYTHONPATH, PYTHONWARNINGS and the rest. entrypoint.py puts the
    action's own directory on sys.path itself. `-B`: root writes no bytecode next to the
    action's sources (they may be in the workspace, which the runner must be able to delete).
    """
    return [sudo, "-n", "--preserve-env", sys.executable, "-I", "-B", script, *argv]


def probe_argv(sudo: str) -> list[str]:
    """The re-run's sudo command with a program that does nothing: whether sudo would work."""
    return [sudo, "-n", "--preserve-env", sys.executable, "-I", "-c", ""]


def pin_docker_config(env: MutableMapping[str, str]) -> None:
    """Name the runner's docker config directory explicitly (docker/login-action writes
    `~/.docker/config.json`), so the re-run reads it whatever sudo does to HOME."""
    if not env.get("DOCKER_CONFIG"):
        home = env.get("HOME") or os.path.expanduser("~")
        env["DOCKER_CONFIG"] = os.path.join(home, ".docker")


def _account(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def no_root_message(uid: int, reason: str) -> str:
    """What a runner without root and without passwordless sudo is told."""
    return (
        f"kaniko-build needs root for chroot and device nodes, but this step runs as "
        f"{_account(uid)} and {reason}. Run the runner as root, or give its user "
        "passwordless sudo: the official runner image (ghcr.io/actions/actions-runner) runs "
        "jobs as `runner` in the group `sudo`, with an /etc/sudoers of "
        f"`{OFFICIAL_SUDOERS[0]}` and `{OFFICIAL_SUDOERS[1]}`"
    )


def no_new_privs_message(uid: int) -> str:
    """What a runner whose container forbids privilege escalation is told."""
    return (
        f"kaniko-build needs root for chroot and device nodes, but this step runs as "
        f"{_account(uid)} with no_new_privs set, so sudo cannot become root: the runner "
        'container has allowPrivilegeEscalation: false (which Pod Security "restricted" '
        "demands). Allow privilege escalation for the runner container (Pod Security "
        '"baseline" does), or run the runner as root'
    )


def no_new_privs(status_text: str | None = None) -> bool:
    """Whether this process may not gain privileges (setuid programs such as sudo stay
    unprivileged), from /proc/self/status."""
    return status_field("NoNewPrivs", status_text) == "1"


def probe_sudo(sudo: str, env: Mapping[str, str] | None = None) -> tuple[str | None, list[str]]:
    """Whether `sudo -n --preserve-env` runs this interpreter: None, or what sudo refused
    with; and the lines sudo printed on the way."""
    import subprocess

    try:
        done = subprocess.run(
            probe_argv(sudo),
            env=dict(os.environ if env is None else env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"did not answer within {PROBE_TIMEOUT_SECONDS:.0f} s", []
    except OSError as e:
        return e.strerror or str(e), []
    said = [line.strip() for line in done.stderr.decode(errors="replace").splitlines()]
    said = [line for line in said if line]
    if done.returncode == 0:
        return None, said
    # A host name missing from /etc/hosts is a warning sudo prints before anything else.
    told = [line for line in said if "unable to resolve host" not in line and AUDIT not in line]
    return (told[0] if told else f"exit status {done.returncode}").rstrip("."), said


def audit_note(said: Sequence[str]) -> str | None:
    """What to say of sudo's audit complaint, once, before the re-run repeats it."""
    if not any(AUDIT in line for line in said):
        return None
    return (
        f'kaniko-build: sudo\'s "{AUDIT}" is harmless: the runner container lacks the '
        "AUDIT_WRITE capability (CRI-O's default set), so sudo cannot write its audit "
        "record; the build is not affected"
    )


def ensure_root(script: str, argv: Sequence[str]) -> None:
    """Return when root; otherwise replace this process with a sudo run of the same script."""
    uid = os.geteuid()
    if uid == 0:
        return
    if os.environ.get(REEXEC_MARK):
        raise PrivilegeError(no_root_message(uid, "the re-run through sudo did not become root"))
    if no_new_privs():
        raise PrivilegeError(no_new_privs_message(uid))
    import shutil

    sudo = shutil.which("sudo")
    if sudo is None:
        raise PrivilegeError(no_root_message(uid, "there is no `sudo` on PATH"))
    refusal, said = probe_sudo(sudo)
    if refusal is not None:
        raise PrivilegeError(no_root_message(uid, f"`sudo -n` refused ({refusal})"))
    note = audit_note(said)
    if note:
        print(note, flush=True)
    pin_docker_config(os.environ)
    # sudo keeps this process's pid: the re-run knows its parent by it.
    os.environ[REEXEC_MARK] = str(os.getpid())
    os.execv(sudo, elevation_argv(script, argv, sudo))


def sudo_parent() -> int | None:
    """The pid of the sudo this process was re-run through, if it was."""
    mark = os.environ.get(REEXEC_MARK, "")
    return int(mark) if mark.isdigit() else None
