"""Checks made on the runner's kaniko directory before any sandbox exists."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kaniko_action.errors import SandboxError
from kaniko_action.sandbox.chroot import mountinfo_text
from kaniko_action.sandbox.kaniko_files import check_executor_dir, elf_interpreter
from kaniko_action.sandbox.layout import INJECTED


def test_dynamic_executor_is_refused(tmp_path: Path) -> None:
    dynamic = Path("/bin/true").resolve()
    assert (elf_interpreter(dynamic) or "").startswith("/lib")
    shutil.copy(dynamic, tmp_path / "executor")
    with pytest.raises(SandboxError, match=r"input 'executor-dir'\) is dynamically linked"):
        check_executor_dir(tmp_path)


def test_missing_or_non_executable_executor(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match=r"no kaniko executor at .*input 'executor-dir'"):
        check_executor_dir(tmp_path)
    (tmp_path / "executor").write_text("#!/bin/sh\n")
    with pytest.raises(SandboxError, match="no kaniko executor"):
        check_executor_dir(tmp_path)


def test_non_elf_is_not_an_interpreter_question(tmp_path: Path) -> None:
    script = tmp_path / "executor"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert elf_interpreter(script) is None
    check_executor_dir(tmp_path)


def test_mountinfo_lists_root_and_each_injected_path_in_field_five() -> None:
    lines = mountinfo_text(INJECTED).splitlines()
    assert [line.split(" ")[4] for line in lines] == ["/", *map(str, INJECTED)]
    assert all(len(line.split(" ")) >= 10 for line in lines)
