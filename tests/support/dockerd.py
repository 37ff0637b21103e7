"""A Docker daemon (Debian's `docker.io`) of the test's own, for act's `container:` jobs.

Everything it keeps is below the directory it is given (its configuration, data root and pid
file) or in a short-named directory of its own under /tmp (its exec root, with containerd's
state, and its socket: unix socket paths may not be longer than 107 bytes). It has no bridge network and no
iptables rules: containers use `--network host` (as act runs them), and no address outside
127.0.0.0/8 is ever used. Stopping it stops its containers and removes what it made in /run
(containerd's shim sockets and dockerd's plugin directory, whose places are fixed).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .proc import run_text

START_TIMEOUT = 60.0
FIXED_PLACES = (Path("/run/docker"), Path("/run/containerd"))


@dataclass(frozen=True)
class Dockerd:
    base: Path
    # The exec root and socket, short enough for unix socket paths.
    run: Path

    @property
    def socket(self) -> Path:
        return self.run / "docker.sock"

    @property
    def host(self) -> str:
        """DOCKER_HOST for clients of this daemon."""
        return f"unix://{self.socket}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = self.host
        env["DOCKER_CONFIG"] = str(self.base / "client")
        return env

    def docker(self, *args: str, timeout: float = 300) -> str:
        """Run the docker client against this daemon; its output, or an assertion error."""
        done = run_text(["docker", *args], self.env(), timeout)
        assert done.returncode == 0, f"docker {' '.join(args)}:\n{done.stdout}"
        return done.stdout

    def containers(self) -> list[str]:
        return self.docker("ps", "-aq").split()

    @classmethod
    @contextmanager
    def start(cls, base: Path) -> Iterator[Dockerd]:
        if shutil.which("dockerd") is None:
            raise AssertionError("dockerd is missing: scripts/setup.sh installs docker.io")
        base.mkdir(parents=True, exist_ok=True)
        daemon = cls(base, Path(tempfile.mkdtemp(prefix="dockerd-", dir="/tmp")))
        config = {
            "bridge": "none",
            "iptables": False,
            "ip6tables": False,
            "ip-forward": False,
            "ip-masq": False,
            "data-root": str(base / "data"),
            "exec-root": str(daemon.run / "exec"),
            "pidfile": str(base / "dockerd.pid"),
            "hosts": [daemon.host],
            # dockerd 20.10 writes /etc/docker/key.json unless told where.
            "deprecated-key-path": str(base / "key.json"),
        }
        (base / "daemon.json").write_text(json.dumps(config), encoding="utf-8")
        existed = {p for p in FIXED_PLACES if p.exists()}
        log = open(base / "dockerd.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            ["dockerd", "--config-file", str(base / "daemon.json")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while run_text(["docker", "info"], daemon.env(), 30).returncode != 0:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        "dockerd did not start:\n" + (base / "dockerd.log").read_text()
                    )
                time.sleep(0.5)
            yield daemon
        finally:
            for container in daemon.containers() if proc.poll() is None else []:
                run_text(["docker", "rm", "-f", container], daemon.env(), 60)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()
            for place in FIXED_PLACES:
                if place not in existed:
                    shutil.rmtree(place, ignore_errors=True)
            # dockerd leaves the bind mount of its default network namespace behind.
            for top in (base, daemon.run):
                for point in sorted(_mounts_below(top), key=len, reverse=True):
                    subprocess.run(["umount", point], check=False, timeout=60)
            left = _mounts_below(base) + _mounts_below(daemon.run)
            assert left == [], f"dockerd left mounts: {left}"
            shutil.rmtree(base / "data", ignore_errors=True)
            shutil.rmtree(daemon.run, ignore_errors=True)


def _mounts_below(base: Path) -> list[str]:
    text = Path("/proc/self/mountinfo").read_text(encoding="utf-8")
    points = [line.split(" ")[4] for line in text.splitlines()]
    return [p for p in points if p.startswith(str(base) + "/")]
