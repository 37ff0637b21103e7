"""Differential test: the context the action stages builds the same image as the whole context.

Every case of tests/support/ignore_corpus.py is built twice with the real executor, `FROM
scratch` + `COPY . /ctx` (and, for some cases, more COPY/ADD lines): once from the whole
context copied into the chroot, once from what stage_context places there. The two images'
files (names, types, modes, owners, contents, link targets; for the maintained executor, which
keeps source times, file times too) are read back through the registry and must be equal. The
staging must also really have left something out where the ignore file excludes anything,
and the host must be untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kaniko_action.staging.context import ContextReport
from kaniko_action.staging.files import stage_context

from .conftest import executor_dir
from .support.hostcheck import HostSnapshot
from .support.ignore_corpus import CASES, Case, write_context
from .support.registry import FileEntry, Registry
from .support.stagebuild import build, stage_whole

pytestmark = pytest.mark.e2e

View = dict[str, tuple[object, ...]]


def view(files: dict[str, FileEntry], with_times: bool) -> View:
    return {
        path: (
            entry.type,
            oct(entry.mode),
            entry.uid,
            entry.gid,
            entry.content,
            entry.linkname,
            entry.mtime if with_times and entry.type == "file" else None,
        )
        for path, entry in files.items()
    }


def differences(whole: View, staged: View) -> list[str]:
    out = []
    for path in sorted(set(whole) | set(staged)):
        if whole.get(path) != staged.get(path):
            out.append(f"{path!r}: whole={whole.get(path)} staged={staged.get(path)}")
    return out


def prepare(case: Case, workspace: Path) -> tuple[str, str]:
    """Write the case's context; the (context, file) inputs that build it."""
    if case.outside_ignore is None:
        write_context(workspace, case)
        return "", ""
    write_context(workspace / "app", case)
    (workspace / "docker").mkdir()
    (workspace / "docker" / "Dockerfile").write_text(case.dockerfile, encoding="utf-8")
    (workspace / "docker" / "Dockerfile.dockerignore").write_bytes(case.outside_ignore)
    return "app", "docker/Dockerfile"


@pytest.mark.parametrize("kind", ["upstream", "fork"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_staged_context_builds_the_same_image(
    case: Case, kind: str, registry: Registry, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    work_base = tmp_path / "runner-temp"
    workspace.mkdir()
    work_base.mkdir()
    context, file = prepare(case, workspace)
    before = HostSnapshot.take(workspace, work_base)
    repo = f"diff/{case.name}-{kind}"
    results = {}
    for name, stage in (("whole", stage_whole), ("staged", stage_context)):
        results[name] = build(
            workspace=workspace,
            work_base=work_base,
            executor_dir=executor_dir(kind),
            stage=stage,
            destination=registry.ref(repo, name),
            insecure_registry=registry.host,
            context=context,
            file=file,
        )
        assert (results[name].status != 0) == case.fails, results[name].log
    if case.fails:
        assert before.changes() == []
        return

    client = registry.client()
    whole = view(client.image_files(repo, "whole"), with_times=kind == "fork")
    staged = view(client.image_files(repo, "staged"), with_times=kind == "fork")
    assert differences(whole, staged) == []

    report = results["staged"].staged
    assert isinstance(report, ContextReport)
    if case.whole:
        assert report.reason is not None
    else:
        assert report.reason is None, report.reason
    if case.prunes:
        assert report.stand_ins + report.skipped_dirs > 0, report
    assert before.changes() == []
