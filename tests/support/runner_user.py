"""The official runner image's account on this machine, without changing this machine.

actions-runner-controller's runner image runs every job as `runner` (uid 1001, primary group
`runner` 1001, also in `sudo` 27 and `docker` 123), with HOME=/home/runner, the work directory
/home/runner/_work, and an /etc/sudoers of exactly two lines (``OFFICIAL_SUDOERS``).

``RunnerMachine`` prepares copies of /etc/passwd, group, shadow, gshadow with that account (and
`guest`, uid 1002, who has no sudo rights) and the sudoers file, plus a directory that stands in
for /home. ``run()`` starts a command in a private mount namespace where those files are
bind-mounted over the host's, the directory over /home and a tmpfs over /run (sudo's timestamp
records), and then drops to the account with `setpriv --init-groups`, the way the runner
process starts a job's steps. The host's /etc, /home and /run are never written: the mounts
exist only in the namespace and vanish with its last process.

``step()`` runs the action's composite step as actions/runner does: the `run:` script written to
RUNNER_TEMP, started as `bash --noprofile --norc -e -o pipefail FILE` with the step's `env:`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kaniko_action.spec.inputs import env_name

from .action import SUITE_INPUTS, parse_file_command
from .proc import run_text, start_text
from .runner_step import composite_step

ROOT = Path(__file__).resolve().parents[2]
ACTION_FILES = ("action.yml", "entrypoint.py", "no-python3.sh", "kaniko_action")

RUNNER_UID = 1001
RUNNER_GID = 1001
SUDO_GID = 27
DOCKER_GID = 123
GUEST_UID = 1002
OFFICIAL_SUDOERS = '%sudo ALL=(ALL:ALL) NOPASSWD:ALL\nDefaults env_keep += "DEBIAN_FRONTEND"\n'
ETC_FILES = ("passwd", "group", "shadow", "gshadow", "sudoers")
RUNNER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RUN_TIMEOUT = 600


def _with_members(line: str, members: list[str]) -> str:
    name, password, gid, current = line.split(":", 3)
    listed = [m for m in current.split(",") if m]
    listed += [m for m in members if m not in listed]
    return f"{name}:{password}:{gid}:{','.join(listed)}"


def _without(text: str, names: set[str], ids: set[str], members: set[str]) -> list[str]:
    """Lines of an account file without the entries named (or numbered) `names` (`ids`), and
    without `members` in any group's member lists."""
    kept: list[str] = []
    for line in text.splitlines():
        fields = line.split(":")
        if not line or fields[0] in names or (len(fields) > 2 and fields[2] in ids):
            continue
        if len(fields) == 4 and fields[3]:
            fields[3] = ",".join(m for m in fields[3].split(",") if m not in members)
        kept.append(":".join(fields))
    return kept


def _add_to_sudo(lines: list[str], gid_field: str) -> str:
    if not any(line.startswith("sudo:") for line in lines):
        lines.append(f"sudo:{gid_field}:")
    lines = [
        _with_members(line, ["runner"]) if line.startswith("sudo:") else line for line in lines
    ]
    return "\n".join(lines) + "\n"


def accounts(
    passwd: str, group: str, shadow: str, gshadow: str, *, guest: bool = True
) -> tuple[str, str, str, str]:
    """Account files plus `runner` (and `guest`, without sudo rights), as `adduser` and
    `usermod -aG sudo,docker runner` in the official image's Dockerfile leave them.

    Accounts of those names or ids that the files already have (a CI machine may have its own
    `runner`) are replaced: the files are copies, used in a private namespace only."""
    users = [("runner", RUNNER_UID)] + ([("guest", GUEST_UID)] if guest else [])
    names = {name for name, _ in users}
    ids = {str(uid) for _, uid in users}
    group_ids = {*ids, str(DOCKER_GID)}
    passwd = "\n".join(_without(passwd, names, ids, set())) + "\n"
    shadow = "\n".join(_without(shadow, names, set(), set())) + "\n"
    group = _add_to_sudo(_without(group, {*names, "docker"}, group_ids, names), f"x:{SUDO_GID}")
    gshadow = _add_to_sudo(_without(gshadow, {*names, "docker"}, set(), names), "*:")
    for name, uid in users:
        passwd += f"{name}:x:{uid}:{uid}:,,,:/home/{name}:/bin/bash\n"
        group += f"{name}:x:{uid}:\n"
        shadow += f"{name}:!:20000:0:99999:7:::\n"
        gshadow += f"{name}:!::\n"
    group += f"docker:x:{DOCKER_GID}:runner\n"
    gshadow += "docker:!::runner\n"
    return passwd, group, shadow, gshadow


def docker_login_config(registry: str, user: str, password: str) -> str:
    """`~/.docker/config.json` as docker/login-action (the docker CLI) writes it."""
    import base64

    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return json.dumps({"auths": {registry: {"auth": token}}}, indent="\t")


Entry = tuple[int, int, int, int, str]


def tree_state(top: Path) -> dict[str, Entry]:
    """Mode, owner, group, size and content hash (link target) of everything under `top`."""
    found: dict[str, Entry] = {}
    if not os.path.lexists(top):
        return found
    paths = [str(top)]
    for dirpath, dirnames, filenames in os.walk(top):
        paths += [os.path.join(dirpath, n) for n in dirnames + filenames]
    for path in paths:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            digest = os.readlink(path)
        else:
            digest = ""
        size = st.st_size if not stat.S_ISDIR(st.st_mode) else 0
        found[os.path.relpath(path, top)] = (st.st_mode, st.st_uid, st.st_gid, size, digest)
    return found


def owned_by(top: Path, uid: int, gid: int) -> list[str]:
    """Everything under `top` (itself included) NOT owned by uid:gid, with its owner."""
    wrong: list[str] = []
    for path, entry in tree_state(top).items():
        if (entry[1], entry[2]) != (uid, gid):
            wrong.append(f"{path} ({entry[1]}:{entry[2]})")
    return wrong


def owned_by_root(top: Path) -> list[str]:
    return [
        f"{path} ({entry[1]}:{entry[2]})"
        for path, entry in tree_state(top).items()
        if entry[1] == 0 or entry[2] == 0
    ]


@dataclass
class StepRun:
    returncode: int
    stdout: str
    outputs: dict[str, str]
    summary: str

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith("::error")]


@dataclass
class RunnerMachine:
    """Account files and a /home for the namespace; paths inside are given as the job sees
    them (/home/runner/...), ``host()`` translates them for inspection from outside."""

    base: Path
    sudoers: str = OFFICIAL_SUDOERS
    etc: Path = field(init=False)
    home: Path = field(init=False)

    def __post_init__(self) -> None:
        self.etc = self.base / "etc"
        self.home = self.base / "home"
        self.etc.mkdir(parents=True)
        self.home.mkdir(mode=0o755)
        os.chmod(self.home, 0o755)
        texts = accounts(
            *(Path("/etc", name).read_text(encoding="utf-8") for name in ETC_FILES[:4])
        )
        for name, text in zip(ETC_FILES[:4], texts):
            target = self.etc / name
            target.write_text(text, encoding="utf-8")
            shutil.copystat(Path("/etc", name), target)
            st = os.stat(Path("/etc", name))
            os.chown(target, st.st_uid, st.st_gid)
        sudoers = self.etc / "sudoers"
        sudoers.write_text(self.sudoers, encoding="utf-8")
        os.chmod(sudoers, 0o440)
        for user, uid in (("runner", RUNNER_UID), ("guest", GUEST_UID)):
            self.mkdir(f"/home/{user}", uid, mode=0o750)

    # -- files, as the job sees them ------------------------------------------------

    def host(self, path: str | Path) -> Path:
        relative = Path(path).relative_to("/home")
        return self.home / relative

    def mkdir(self, path: str, uid: int = RUNNER_UID, mode: int = 0o755) -> Path:
        """Create `path` and its missing parents below /home, owned by uid (group = uid)."""
        target = self.host(path)
        missing = [p for p in [target, *target.parents] if not p.exists()]
        for directory in reversed(missing):
            directory.mkdir()
            os.chmod(directory, mode)
            os.chown(directory, uid, uid)
        return target

    def write(self, path: str, text: str, uid: int = RUNNER_UID, mode: int = 0o644) -> Path:
        target = self.host(path)
        self.mkdir(str(Path(path).parent), uid)
        target.write_text(text, encoding="utf-8")
        os.chmod(target, mode)
        os.chown(target, uid, uid)
        return target

    def install_action(self, path: str, uid: int = RUNNER_UID, source_root: Path = ROOT) -> None:
        """The action's files where the runner downloads actions, owned by the job's user."""
        target = self.mkdir(path, uid)
        for name in ACTION_FILES:
            source = source_root / name
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, target / name)
        for dirpath, dirnames, filenames in os.walk(target):
            for name in [*dirnames, *filenames]:
                os.chown(os.path.join(dirpath, name), uid, uid)

    # -- processes ------------------------------------------------------------------

    def namespace_script(self, uid: int, setpriv: tuple[str, ...] = ()) -> str:
        mounts = [f"mount --bind {shlex.quote(str(self.etc / n))} /etc/{n}" for n in ETC_FILES]
        mounts.append(f"mount --bind {shlex.quote(str(self.home))} /home")
        mounts.append("mount -t tmpfs -o mode=0755 kaniko-build-test-run /run")
        return "\n".join(
            [
                "set -eu",
                *mounts,
                f"exec setpriv {shlex.join(setpriv)} --reuid={uid} --regid={uid} --init-groups "
                '-- "$@"',
            ]
        )

    def command(
        self, argv: list[str], uid: int, cwd: str, setpriv: tuple[str, ...] = ()
    ) -> list[str]:
        """`argv` wrapped to run as `uid` in the namespace.

        `setpriv` options narrow the process further the way a container runtime can:
        `--no-new-privs` (allowPrivilegeEscalation: false), `--bounding-set=-mknod` (a
        capability the runtime did not grant).
        """
        return [
            "unshare", "--mount", "--propagation", "private", "--",
            "bash", "-c", self.namespace_script(uid, setpriv), "namespace",
            "env", "-C", cwd, "--", *argv,
        ]  # fmt: skip

    def run(
        self,
        argv: list[str],
        *,
        uid: int = RUNNER_UID,
        env: dict[str, str] | None = None,
        cwd: str = "/",
        timeout: float = RUN_TIMEOUT,
        setpriv: tuple[str, ...] = (),
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` as `uid` in the namespace; stdout and stderr together, as text."""
        return run_text(
            self.command(argv, uid, cwd, setpriv),
            env if env is not None else {"PATH": RUNNER_PATH},
            timeout,
        )

    def delete_contents(
        self, paths: list[str], uid: int = RUNNER_UID
    ) -> subprocess.CompletedProcess[str]:
        """Delete everything below `paths` as `uid` (what the runner does between jobs)."""
        return self.run(["find", *paths, "-mindepth", "1", "-delete"], uid=uid)


@dataclass
class Job:
    """One job of the runner in the namespace: its workspace, RUNNER_TEMP, tool cache and the
    action, laid out as actions/runner lays them out under the user's _work directory."""

    machine: RunnerMachine
    user: str = "runner"
    uid: int = RUNNER_UID
    repository: str = "app"
    extra_env: dict[str, str] = field(default_factory=dict)
    setpriv: tuple[str, ...] = ()
    # The checkout the action's files come from, and the ref it is installed under.
    source: Path = ROOT
    ref: str = "v3"

    def __post_init__(self) -> None:
        work = f"/home/{self.user}/_work"
        self.workspace = f"{work}/{self.repository}/{self.repository}"
        self.runner_temp = f"{work}/_temp"
        self.tool_cache = f"{work}/_tool"
        self.action_path = f"{work}/_actions/org/kaniko-build/{self.ref}"
        for path in (self.workspace, self.runner_temp, self.tool_cache):
            self.machine.mkdir(path, self.uid)
        self.machine.install_action(self.action_path, self.uid, self.source)

    @property
    def home(self) -> str:
        return f"/home/{self.user}"

    def host(self, path: str) -> Path:
        return self.machine.host(path)

    def write(self, relative: str, text: str) -> Path:
        return self.machine.write(f"{self.workspace}/{relative}", text, self.uid)

    def env(self, inputs: dict[str, str], files: dict[str, str]) -> dict[str, str]:
        _script, defaults = composite_step()
        env = {
            "PATH": RUNNER_PATH,
            "HOME": self.home,
            "LANG": "C.UTF-8",
            "DEBIAN_FRONTEND": "noninteractive",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": self.workspace,
            "GITHUB_ACTION_PATH": self.action_path,
            "RUNNER_TEMP": self.runner_temp,
            "RUNNER_TOOL_CACHE": self.tool_cache,
            "RUNNER_TRACKING_ID": f"github_{uuid.uuid4()}",
            "PYTHONUNBUFFERED": "1",
            **files,
            **self.extra_env,
            **defaults,
        }
        for name, value in {**SUITE_INPUTS, **inputs}.items():
            variable = env_name(name)
            assert variable in defaults, f"no input {name}"
            env[variable] = value
        return env

    def prepare(self, inputs: dict[str, str]) -> tuple[list[str], dict[str, str], dict[str, str]]:
        """The step's command (as the runner starts it), environment and file commands."""
        named = {k.replace("_", "-"): v for k, v in inputs.items()}
        commands = f"{self.runner_temp}/_runner_file_commands"
        self.machine.mkdir(commands, self.uid)
        files = {
            "GITHUB_OUTPUT": f"{commands}/set_output_{uuid.uuid4()}",
            "GITHUB_STEP_SUMMARY": f"{commands}/step_summary_{uuid.uuid4()}",
            "GITHUB_ENV": f"{commands}/set_env_{uuid.uuid4()}",
            "GITHUB_PATH": f"{commands}/add_path_{uuid.uuid4()}",
        }
        for path in files.values():
            self.machine.write(path, "", self.uid)
        script, _ = composite_step()
        script_path = f"{self.runner_temp}/{uuid.uuid4()}.sh"
        self.machine.write(script_path, script + "\n", self.uid)
        argv = ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", script_path]
        command = self.machine.command(argv, self.uid, self.workspace, self.setpriv)
        return command, self.env(named, files), files

    def step(self, **inputs: str) -> StepRun:
        """Run the action's composite step (underscores in input names stand for hyphens)."""
        command, env, files = self.prepare(inputs)
        done = run_text(command, env, RUN_TIMEOUT)
        print(done.stdout)
        return StepRun(
            returncode=done.returncode,
            stdout=done.stdout,
            outputs=parse_file_command(self.host(files["GITHUB_OUTPUT"]).read_text()),
            summary=self.host(files["GITHUB_STEP_SUMMARY"]).read_text(),
        )

    def start(self, **inputs: str) -> subprocess.Popen[str]:
        """Start the step without waiting; its pid is the step's process (every wrapper
        execs into the next, the action into sudo), as the runner would signal it."""
        command, env, _files = self.prepare(inputs)
        return start_text(command, env)
