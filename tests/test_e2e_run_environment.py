"""What RUN steps see, per RUN environment and executor: in namespaces of their own (the
runner as it is), in a user namespace (without CAP_SYS_ADMIN), and in the plain chroot
(without CAP_SYS_ADMIN or CAP_SETFCAP). Each build records its checks in the image, read back
through the registry; each proves the host untouched. The image built in namespaces is the
image built without them, and no layer holds anything of /proc or /dev."""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .support import run_modes
from .support.action import ActionHarness, ActionRun
from .support.registry import Registry

pytestmark = pytest.mark.e2e

MARKER = "kaniko-build-run-environment-marker"
# One line per check in /checks/results: NAME ok, or NAME FAIL and what it said.
CHECKS = r"""#!/bin/sh
out=/checks/results
: > $out
check() {
    name=$1; shift
    if said=$("$@" 2>&1); then echo "$name ok" >> $out
    else echo "$name FAIL $(echo $said | head -c 160)" >> $out; fi
}
check status sh -c 'grep "^NSpid:" /proc/self/status'
check exe sh -c 'test "$(readlink /proc/self/exe)" = /usr/bin/readlink'
check fd0 sh -c 'cat /dev/fd/0 < /dev/null'
check uuid sh -c 'grep -Eq "^[0-9a-f-]{36}$" /proc/sys/kernel/random/uuid'
check procsubst bash -c 'cat <(echo from-a-pipe)'
check lock python3 -c 'import multiprocessing as m; l = m.Lock(); l.acquire(); l.release()'
check ps sh -c 'busybox ps > /checks/ps && grep -q executor /checks/ps && test $(wc -l < /checks/ps) -lt 12'
check orphan sh -c 'test -d /proc/1 || exit 1; (sleep 0.3 &); sleep 1; test $(grep -l "^State:.Z" /proc/[0-9]*/status | wc -l) = 0'
check secret sh -c '! grep -s -l -f /checks/pattern /proc/[0-9]*/environ /proc/[0-9]*/cmdline'
check mount sh -c '! mount -t tmpfs none /mnt 2> /dev/null'
exit 0
"""
DOCKERFILE = """\
FROM {busybox} AS tools
FROM {debian}
COPY --from=tools /bin/busybox /usr/local/bin/busybox
COPY checks.sh pattern /checks/
RUN (setsid sleep 600 < /dev/null > /dev/null 2>&1 &) && sh /checks/checks.sh && cat /checks/results
"""
NEEDS_PROC = ("status", "exe", "fd0", "uuid", "procsubst", "ps", "orphan")
EVERYWHERE = ("lock", "secret", "mount")


@contextmanager
def tmpfs(path: Path) -> Iterator[None]:
    """`path` on a tmpfs of its own while the block runs: unpacking the 170 MB base takes a
    quarter of the time it takes on this disk. On the runner's side, so what the build
    leaves is still seen."""
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1g", "runenv", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


def _results(registry: Registry, repo: str) -> dict[str, str]:
    files = registry.client().image_files(repo, "1")
    lines = files["checks/results"].text.splitlines()
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in lines}


def _assert_told(run: ActionRun, mode: str) -> None:
    """Preflight said it once, first thing; the summary says it too."""
    told = [line for line in run.stdout.splitlines() if line.startswith("RUN steps run ")]
    assert len(told) == 1, told
    assert told[0].startswith(run_modes.log_line_start(mode)), told
    row = next(line for line in run.summary.splitlines() if line.startswith("| RUN steps |"))
    expected = "chroot without /proc" if mode == run_modes.CHROOT else "own PID tree, /proc"
    assert expected in row, row


@pytest.mark.parametrize("mode", run_modes.MODES)
def test_what_run_steps_see(
    harness: ActionHarness,
    registry: Registry,
    busybox_image: str,
    debian_python_image: str,
    mode: str,
) -> None:
    harness.write(
        "Dockerfile", DOCKERFILE.format(busybox=busybox_image, debian=debian_python_image)
    )
    harness.write("checks.sh", CHECKS)
    harness.write("pattern", MARKER + "\n")
    harness.extra_env["KANIKO_BUILD_TEST_MARKER"] = MARKER
    harness.wrapper = run_modes.wrapper(mode)
    repo = f"runenv/{mode}"
    with tmpfs(harness.runner_temp):
        run = harness.run(
            tags=f"{registry.host}/{repo}:1",
            insecure_registries=registry.host,
            # One snapshot of the 170 MB base instead of one per instruction.
            single_snapshot="true",
        )
    assert run.returncode == 0, run.stdout
    results = _results(registry, repo)
    print(f"{mode}: {results}")
    for name in EVERYWHERE:
        assert results[name] == "ok", (name, results)
    for name in NEEDS_PROC:
        if run_modes.namespaced(mode):
            assert results[name] == "ok", (name, results)
        else:
            assert results[name].startswith("FAIL"), (name, results)
    _assert_told(run, mode)
    # The RUN step's detached sleep ended with the build; nothing else was left either.
    assert run.host_changes == [], run.host_changes


DIFFERENTIAL = """\
FROM {busybox}
RUN mkdir -p /data && echo one > /data/a && ln -s a /data/b \\
 && echo shared > /dev/shm/f && cp /dev/shm/f /data/from-shm && echo left > /dev/shm/left
RUN cat /data/from-shm /dev/shm/left > /data/both && rm -f /etc/hostname
"""


def _layer_names(registry: Registry, repo: str) -> list[list[str]]:
    names = []
    for layer in registry.client().image_layers(repo, "1"):
        with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
            names.append(tar.getnames())
    return names


def test_the_image_is_the_same_with_and_without_namespaces(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    """A Dockerfile that builds either way (it writes /dev/shm, which is a directory without
    namespaces) gives the same image, byte for byte, and no layer it made holds /proc, /dev
    or anything in them."""
    harness.write("Dockerfile", DIFFERENTIAL.format(busybox=busybox_image))
    digests = {}
    for mode in (run_modes.NAMESPACES, run_modes.CHROOT):
        harness.wrapper = run_modes.wrapper(mode)
        repo = f"runenv/same-{mode}"
        run = harness.run(
            tags=f"{registry.host}/{repo}:1", insecure_registries=registry.host, reproducible="true"
        )
        assert run.returncode == 0, run.stdout
        assert run.host_changes == [], run.host_changes
        digests[mode] = run.outputs["digest"]
        files = registry.client().image_files(repo, "1")
        assert files["data/both"].text == "shared\nleft\n"
        built = _layer_names(registry, repo)[1:]  # the base image's layer first
        assert len(built) == 2
        for names in built:
            assert not [n for n in names if n.split("/")[0] in ("proc", "dev")], names
    assert digests[run_modes.NAMESPACES] == digests[run_modes.CHROOT]


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_a_step_failing_for_want_of_proc_says_what_to_change(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    """The issue's first example: kaniko's own image builds it, and so does a runner that
    gives namespaces; in the plain chroot the error annotation names the cause and the fix."""
    harness.write(
        "Dockerfile", f"FROM {busybox_image}\nRUN cat /proc/sys/kernel/random/uuid > /u\n"
    )
    built = harness.run(push="false")
    assert built.returncode == 0, built.stdout
    harness.wrapper = run_modes.wrapper(run_modes.CHROOT)
    run = harness.run(push="false", shm_size="1g")
    assert run.returncode == 1, run.stdout
    (error,) = [line for line in run.stdout.splitlines() if line.startswith("::error ")]
    assert (
        "`/proc/sys/kernel/random/uuid` is missing: RUN steps on this runner have no /proc" in error
    )
    assert "hostUsers: false" in error and "deploy/README.md" in error
    assert "::warning::input 'shm-size' has no effect" in run.stdout
    assert run.host_changes == []
