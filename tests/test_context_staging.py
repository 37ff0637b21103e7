"""Staging the context: what is placed in the chroot, with what content, and what is not.

No executor here: tests/test_e2e_ignore_diff.py proves against the real ones that what is
staged builds the same image as the whole context.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaniko_action.dockerfile.ignore import Matcher, UnsupportedPattern, read_patterns
from kaniko_action.errors import InputError
from kaniko_action.sandbox.layout import chroot_layout, host_path
from kaniko_action.spec.build_spec import build_spec
from kaniko_action.spec.inputs import DEFAULTS
from kaniko_action.spec.paths import resolve_paths
from kaniko_action.staging.context import ContextReport
from kaniko_action.staging.files import stage_certificates, stage_context

from .support import oracle
from .support.fifo import error_without_waiting

T0 = 946684800 * 10**9


def write(base: Path, rel: str, text: str = "x\n", mode: int = 0o644) -> Path:
    path = base / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def stage(
    workspace: Path, root: Path, context: str = "", file: str = ""
) -> tuple[Path, ContextReport]:
    root.mkdir()  # staging comes first: nothing else of the chroot is there yet
    paths = resolve_paths(str(workspace), context, file, "")
    layout = chroot_layout(paths)
    report = stage_context(str(root), paths, layout)
    return Path(host_path(str(root), layout.context_dir)), report


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    write(workspace, "Dockerfile", "FROM scratch\nCOPY . /ctx\n")
    return workspace


def tree(base: Path) -> dict[str, tuple[str, int, int, str]]:
    """rel -> (kind, mode, size, content or link target)."""
    out = {}
    for dirpath, dirs, files in os.walk(base):
        for name in dirs + files:
            path = Path(dirpath) / name
            st_ = path.lstat()
            rel = str(path.relative_to(base))
            if stat.S_ISLNK(st_.st_mode):
                out[rel] = ("link", 0, 0, os.readlink(path))
            elif stat.S_ISDIR(st_.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st_.st_mode), 0, "")
            else:
                text = path.read_bytes().decode(errors="replace")
                out[rel] = ("file", stat.S_IMODE(st_.st_mode), st_.st_size, text)
    return out


def test_excluded_directory_is_left_empty_and_excluded_files_stand_in(
    ws: Path, tmp_path: Path
) -> None:
    write(ws, ".dockerignore", "node_modules\n*.log\n")
    write(ws, "node_modules/pkg/index.js", "big\n")
    write(ws, "node_modules/pkg/more.js", "more\n")
    write(ws, "app.log", "log line\n", mode=0o640)
    write(ws, "src/main.py", "main\n", mode=0o755)
    os.chmod(ws / "node_modules", 0o750)
    staged, report = stage(ws, tmp_path / "root")
    files = tree(staged)
    assert files["node_modules"] == ("dir", 0o750, 0, "")
    assert not any(p.startswith("node_modules/") for p in files)
    assert files["app.log"] == ("file", 0o640, 0, "")  # an empty stand-in, same mode
    assert files["src/main.py"] == ("file", 0o755, 5, "main\n")
    assert report.skipped_dirs == 1 and report.stand_ins == 1 and report.reason is None
    assert report.files == 3  # Dockerfile, .dockerignore, src/main.py


def test_an_exception_keeps_the_directory_walked(ws: Path, tmp_path: Path) -> None:
    write(ws, ".dockerignore", "node_modules\n!node_modules/keep/me.txt\n")
    write(ws, "node_modules/keep/me.txt", "kept\n")
    write(ws, "node_modules/keep/not.txt", "not kept\n")
    write(ws, "node_modules/other/deep/x.js", "x\n")
    files = tree(stage(ws, tmp_path / "root")[0])
    assert files["node_modules/keep/me.txt"][3] == "kept\n"
    assert files["node_modules/keep/not.txt"][2] == 0
    assert files["node_modules/other"][0] == "dir"
    assert "node_modules/other/deep" not in files  # nothing below can come back


def test_dockerfile_and_ignore_file_keep_their_content_when_excluded(
    ws: Path, tmp_path: Path
) -> None:
    write(ws, ".dockerignore", "Dockerfile\n.dockerignore\n")
    files = tree(stage(ws, tmp_path / "root")[0])
    assert files["Dockerfile"][3] == "FROM scratch\nCOPY . /ctx\n"
    assert files[".dockerignore"][3] == "Dockerfile\n.dockerignore\n"


def test_symlinks_are_staged_as_links_and_never_followed(ws: Path, tmp_path: Path) -> None:
    secret = write(tmp_path, "outside/secret.txt", "runner secret\n")
    os.symlink(secret, ws / "abs-link")
    os.symlink("../outside", ws / "rel-link")
    os.symlink("missing", ws / "broken")
    staged, _ = stage(ws, tmp_path / "root")
    files = tree(staged)
    assert files["abs-link"] == ("link", 0, 0, str(secret))
    assert files["rel-link"] == ("link", 0, 0, "../outside")
    assert files["broken"] == ("link", 0, 0, "missing")
    assert not any("runner secret" in entry[3] for entry in files.values())


def test_a_source_named_through_a_link_gets_what_its_name_keeps(ws: Path, tmp_path: Path) -> None:
    write(ws, "Dockerfile", "FROM scratch\nCOPY link/out.bin /x/\nCOPY tools/sub /y/\n")
    write(ws, ".dockerignore", "build\nreal\n")
    write(ws, "build/out.bin", "out\n")
    write(ws, "build/other.bin", "other\n")
    write(ws, "real/sub/a.txt", "a\n")
    write(ws, "real/sub/b/c.txt", "c\n")
    os.symlink("build", ws / "link")
    os.symlink("real", ws / "tools")
    files = tree(stage(ws, tmp_path / "root")[0])
    # kaniko matches "link/out.bin" and "tools/sub/...", which the rules keep.
    assert files["build/out.bin"][3] == "out\n"
    assert "build/other.bin" not in files
    assert files["real/sub/a.txt"][3] == "a\n"
    assert files["real/sub/b/c.txt"][3] == "c\n"
    assert files["link"] == ("link", 0, 0, "build")


def test_a_source_named_by_its_own_name_resolves_but_stays_empty(ws: Path, tmp_path: Path) -> None:
    write(ws, "Dockerfile", "FROM scratch\nCOPY node_modules/pkg/index.js /x/\n")
    write(ws, ".dockerignore", "node_modules\n")
    write(ws, "node_modules/pkg/index.js", "js\n")
    write(ws, "node_modules/pkg/other.js", "other\n")
    files = tree(stage(ws, tmp_path / "root")[0])
    assert files["node_modules/pkg/index.js"] == ("file", 0o644, 0, "")
    assert "node_modules/pkg/other.js" not in files


def test_add_source_keeps_its_content_when_excluded(ws: Path, tmp_path: Path) -> None:
    write(ws, "Dockerfile", "FROM scratch\nADD --chown=1:1 archive.tar /x/\n")
    write(ws, ".dockerignore", "*.tar\n")
    write(ws, "archive.tar", "pretend tar\n")
    write(ws, "other.tar", "not added\n")
    files = tree(stage(ws, tmp_path / "root")[0])
    assert files["archive.tar"][3] == "pretend tar\n"
    assert files["other.tar"][2] == 0


@pytest.mark.parametrize(
    ("dockerfile", "ignore", "reason"),
    [
        ("FROM scratch\nADD $ARCHIVE /x/\n", "node_modules\n", "ADD source"),
        ("FROM scratch\nADD *.tar /x/\n", "node_modules\n", "ADD source"),
        ("FROM scratch\nCOPY . /x/\n", "node_modules\n\\pL\n", "Unicode class"),
        ("FROM scratch\nCOPY . /x/\n", "x" * 70000 + "\n", "longer than"),
    ],
)
def test_what_cannot_be_reproduced_stages_everything(
    ws: Path, tmp_path: Path, dockerfile: str, ignore: str, reason: str
) -> None:
    write(ws, "Dockerfile", dockerfile)
    write(ws, ".dockerignore", ignore)
    write(ws, "node_modules/pkg/index.js", "js\n")
    staged, report = stage(ws, tmp_path / "root")
    assert report.reason is not None and reason in report.reason
    assert tree(staged)["node_modules/pkg/index.js"][3] == "js\n"


def test_ignore_file_through_a_link_inside_the_context(ws: Path, tmp_path: Path) -> None:
    write(ws, "rules/ignore.txt", "node_modules\nrules\n")
    os.symlink("rules/ignore.txt", ws / ".dockerignore")
    write(ws, "node_modules/a.js", "a\n")
    files = tree(stage(ws, tmp_path / "root")[0])
    assert "node_modules/a.js" not in files
    assert files["rules/ignore.txt"][3] == "node_modules\nrules\n"  # kaniko reads it


def test_ignore_file_linked_out_of_the_context_is_not_seen_by_kaniko(
    ws: Path, tmp_path: Path
) -> None:
    """In the chroot the link leads nowhere: kaniko uses no rules, so nothing is left out."""
    write(tmp_path, "shared.dockerignore", "node_modules\n")
    os.symlink(tmp_path / "shared.dockerignore", ws / ".dockerignore")
    write(ws, "node_modules/a.js", "a\n")
    staged, report = stage(ws, tmp_path / "root")
    assert tree(staged)["node_modules/a.js"][3] == "a\n"
    assert report.reason is None


def test_dockerfile_ignore_file_outside_the_context_wins(ws: Path, tmp_path: Path) -> None:
    write(ws, "app/.dockerignore", "main.txt\n")
    write(ws, "app/main.txt", "main\n")
    write(ws, "app/node_modules/a.js", "a\n")
    write(ws, "docker/Dockerfile", "FROM scratch\nCOPY . /ctx\n")
    write(ws, "docker/Dockerfile.dockerignore", "node_modules\n")
    files = tree(stage(ws, tmp_path / "root", context="app", file="docker/Dockerfile")[0])
    assert files["main.txt"][3] == "main\n"
    assert "node_modules/a.js" not in files


def test_special_files_are_left_out(ws: Path, tmp_path: Path) -> None:
    os.mkfifo(ws / "fifo")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(ws / "sock"))
        files = tree(stage(ws, tmp_path / "root")[0])
    assert "fifo" not in files and "sock" not in files


def test_modes_and_times_are_kept(ws: Path, tmp_path: Path) -> None:
    write(ws, "bin/tool", "#!/bin/sh\n", mode=0o4755)
    write(ws, "ro/file", "ro\n", mode=0o400)
    os.chmod(ws / "ro", 0o555)
    for path in (ws / "bin/tool", ws / "ro/file", ws / "ro", ws / "bin", ws):
        os.utime(path, ns=(T0, T0 + 7))
    staged, _ = stage(ws, tmp_path / "root")
    for rel, mode in (("bin/tool", 0o4755), ("ro/file", 0o400), ("ro", 0o555), ("bin", 0o755)):
        st_ = (staged / rel).lstat()
        assert stat.S_IMODE(st_.st_mode) == mode, rel
        assert st_.st_mtime_ns == T0 + 7, rel
    assert staged.lstat().st_mtime_ns == T0 + 7


def test_sparse_file_stays_sparse(ws: Path, tmp_path: Path) -> None:
    with open(ws / "sparse.img", "wb") as f:
        f.truncate(64 << 20)
        f.seek(32 << 20)
        f.write(b"middle")
    staged, _ = stage(ws, tmp_path / "root")
    st_ = (staged / "sparse.img").stat()
    assert st_.st_size == 64 << 20
    assert st_.st_blocks * 512 < 1 << 20
    with open(staged / "sparse.img", "rb") as f:
        f.seek(32 << 20)
        assert f.read(6) == b"middle"


def test_the_runner_files_are_not_shared(ws: Path, tmp_path: Path) -> None:
    write(ws, "data.txt", "original\n")
    staged, _ = stage(ws, tmp_path / "root")
    copy = staged / "data.txt"
    assert copy.stat().st_ino != (ws / "data.txt").stat().st_ino
    assert copy.stat().st_nlink == 1
    with open(copy, "a") as f:
        f.write("appended in the chroot\n")
    os.chmod(copy, 0o777)
    assert (ws / "data.txt").read_text() == "original\n"
    assert stat.S_IMODE((ws / "data.txt").stat().st_mode) == 0o644


@pytest.mark.parametrize("replaced", ["ca.pem", "c.crt", "c.key"])
@pytest.mark.parametrize("by", ["link", "fifo", "large"])
def test_certificates_replaced_after_the_spec_are_not_staged(
    ws: Path, tmp_path: Path, replaced: str, by: str
) -> None:
    """The spec checked the files; what staging reads is checked again on the descriptor it
    reads from: a link to a runner file, a fifo (no wait) or a huge file is refused."""
    for name in ("ca.pem", "c.crt", "c.key"):
        write(ws, name, f"{name} content\n")
    raw = dict(DEFAULTS)
    raw.update(
        {
            "tags": "r/a:1",
            "registry-certificates": "reg:5000=ca.pem",
            "registry-client-certs": "reg:5000=c.crt,c.key",
        }
    )
    spec = build_spec(raw, str(ws))
    layout = chroot_layout(spec.paths)
    root = tmp_path / "root"
    stage_certificates(str(root), spec, layout)
    assert Path(host_path(str(root), layout.client_cert(0)[1])).read_text() == "c.key content\n"

    runner_file = write(tmp_path, "rootonly", "runner key\n", 0o600)
    (ws / replaced).unlink()
    if by == "link":
        (ws / replaced).symlink_to(runner_file)
    elif by == "fifo":
        os.mkfifo(ws / replaced)
    else:
        (ws / replaced).write_bytes(b"x" * (1024 * 1024 + 1))
    why = {"link": "is not a regular file", "fifo": "is not a regular file", "large": "is larger"}
    error = error_without_waiting(
        ws / replaced, lambda: stage_certificates(str(tmp_path / "again"), spec, layout)
    )
    assert isinstance(error, InputError)
    assert f"the file for reg:5000 ({ws / replaced}) {why[by]}" in str(error)
    staged = [p for p in (tmp_path / "again").rglob("*") if p.is_file()]
    assert all(p.read_bytes() != b"runner key\n" for p in staged)


# ---------------------------------------------------- property: against patternmatcher

name = st.sampled_from(["a", "b", "node_modules", ".git", "x.log", "keep", "k k", "\u00e9"])
paths = st.lists(st.lists(name, min_size=1, max_size=4).map("/".join), min_size=1, max_size=12)
rules = st.lists(
    st.sampled_from(
        ["a", "node_modules", "**/node_modules", "*.log", "!keep", "!**/keep", "*", "!a/b",
         "b/**", "!b/keep", "?", ".*", "a/*/x.log", "**", "!node_modules/keep", "k k"]
    ),
    max_size=4,
)  # fmt: skip


BASE_FILES = [
    "node_modules/keep",
    "node_modules/a/keep",
    "node_modules/b/x.log",
    "a/b/c",
    "a/x/x.log",
    "b/keep/x",
    "b/x.log",
    ".git/HEAD",
    "keep",
    "k k/a",
]


@pytest.fixture(scope="module")
def reference() -> Path:
    try:
        return oracle.build(oracle.PINNED["upstream"])
    except oracle.OracleUnavailable as e:
        pytest.skip(f"patternmatcher reference not available: {e}")


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(paths, rules)
def test_everything_patternmatcher_keeps_is_staged_with_its_content(
    reference: Path, tmp_path_factory: pytest.TempPathFactory, files: list[str], lines: list[str]
) -> None:
    base = tmp_path_factory.mktemp("prop")
    ws = base / "ws"
    ws.mkdir()
    write(ws, "Dockerfile", "FROM scratch\nCOPY . /ctx\n")
    for rel in [*BASE_FILES, *files]:
        target = ws / rel
        if any(parent.is_file() for parent in target.parents) or target.is_dir():
            continue
        write(ws, rel, f"content of {rel}\n")
    ignore = "\n".join(lines) + "\n"
    write(ws, ".dockerignore", ignore)
    staged, report = stage(ws, base / "root")
    source, result = tree(ws), tree(staged)
    names = sorted(source)
    answer = oracle.ask(reference, ignore.encode(), [n.encode() for n in names])
    kept = {n for n, excluded in zip(names, answer.excluded) if not excluded}
    for rel in kept:
        assert result.get(rel) == source[rel], rel  # kept: there, whole
    for rel, entry in result.items():
        assert rel in source and source[rel][0] == entry[0], rel  # nothing invented
        if entry[0] == "file" and entry != source[rel]:
            assert entry[2] == 0 and rel not in kept, rel  # only stand-ins differ
    try:
        Matcher(read_patterns(ignore.encode()))
    except UnsupportedPattern:
        assert report.reason is not None


def _pinned(workspace: Path, root: Path, file: str) -> Path:
    """Stage, then write the pinned Dockerfile of a build whose stage 0 is pinned."""
    from kaniko_action.oci.platform import Platform
    from kaniko_action.platforms.pins import Pin, write_pinned

    root.mkdir()
    paths = resolve_paths(str(workspace), "", file, "")
    layout = chroot_layout(paths)
    stage_context(str(root), paths, layout)
    pin = Pin(0, 1, Platform("linux", "arm64"), "base", "base@sha256:" + "0" * 64)
    pinned = write_pinned(str(root), layout, [pin])
    dockerfile = Path(host_path(str(root), pinned.dockerfile))
    assert dockerfile.read_text().startswith("FROM base@sha256:")
    return dockerfile.with_name(dockerfile.name + ".dockerignore")


@pytest.mark.parametrize("file", ["Dockerfile", "docker/Dockerfile"])
def test_the_pinned_ignore_file_never_reads_through_a_link_out_of_the_chroot(
    tmp_path: Path, file: str
) -> None:
    """A committed `Dockerfile.dockerignore -> /root-only/file`: its content must not land
    in the chroot, where RUN steps read it, and kaniko must apply the rules staging did."""
    secret = write(tmp_path / "root-only", "key", "SECRET\n", mode=0o600)
    workspace = tmp_path / "ws"
    write(workspace, "Dockerfile", "FROM base\nCOPY . /ctx\n")
    if file != "Dockerfile":
        write(workspace, file, "FROM base\nCOPY . /ctx\n")
    os.symlink(secret, workspace / (file + ".dockerignore"))
    ignore = _pinned(workspace, tmp_path / "root", file if file != "Dockerfile" else "")
    assert not os.path.lexists(ignore)


def test_the_pinned_ignore_file_holds_what_kaniko_reads_in_the_chroot(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    write(workspace, "Dockerfile", "FROM base\nCOPY . /ctx\n")
    write(workspace, "rules/ignore.txt", "*.log\n")
    os.symlink("rules/ignore.txt", workspace / "Dockerfile.dockerignore")
    ignore = _pinned(workspace, tmp_path / "root", "")
    assert ignore.read_text() == "*.log\n" and not ignore.is_symlink()
