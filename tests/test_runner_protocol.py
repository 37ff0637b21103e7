"""The runner protocol module against a parser of the runner's file-command format."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kaniko_action.workflow.commands import Workflow, command, escape_data, escape_property

from .support.action import parse_file_command
from .support.workflow_commands import obeyed_commands


def test_outputs_round_trip_multiline_and_tricky_values(tmp_path: Path) -> None:
    out = tmp_path / "output"
    out.write_text("")
    runner = Workflow({"GITHUB_OUTPUT": str(out), "GITHUB_ACTIONS": "true"}, io.StringIO())
    values = {
        "digest": "sha256:" + "0" * 64,
        "multi": "line one\nline two\n\nEOF\nghadelimiter_x",
        "equals": "a=b<<c",
    }
    for k, v in values.items():
        runner.set_output(k, v)
    assert parse_file_command(out.read_text()) == values


def test_delimiters_are_random(tmp_path: Path) -> None:
    out = tmp_path / "output"
    runner = Workflow({"GITHUB_OUTPUT": str(out)}, io.StringIO())
    runner.set_output("a", "1")
    runner.set_output("b", "1")
    delimiters = [line.split("<<")[1] for line in out.read_text().splitlines() if "<<" in line]
    assert len(set(delimiters)) == 2


def test_escaping_matches_actions_core() -> None:
    assert escape_data("50%\r\ndone") == "50%25%0D%0Adone"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert (
        command("error", "bad\nthing", {"file": "a,b:c", "line": 3, "col": None})
        == "::error file=a%2Cb%3Ac,line=3::bad%0Athing"
    )
    assert command("endgroup") == "::endgroup::"


def test_mask_each_line_of_a_multiline_secret() -> None:
    buf = io.StringIO()
    Workflow({}, buf).mask("first\nsecond\n")
    assert buf.getvalue().splitlines() == ["::add-mask::first", "::add-mask::second"]


def test_phases_report_their_durations() -> None:
    buf = io.StringIO()
    phases = Workflow({}, buf).phases()
    phases.start("Build")
    buf.write("inside\n")
    phases.start("Push")
    phases.end()
    lines = buf.getvalue().splitlines()
    assert lines[0] == "::group::Build"
    assert lines[1] == "inside"
    assert lines[2].startswith("Build: ") and lines[2].endswith("s")
    assert lines[3] == "::endgroup::"
    assert lines[4] == "::group::Push" and lines[6] == "::endgroup::"
    assert list(phases.durations) == ["Build", "Push"]


def test_outside_actions_outputs_are_printed() -> None:
    buf = io.StringIO()
    Workflow({}, buf).set_output("digest", "sha256:1")
    assert buf.getvalue() == "digest=sha256:1\n"


@pytest.mark.parametrize("size", [10, 1024 * 1024 + 1])
def test_summary_respects_the_cap(tmp_path: Path, size: int) -> None:
    path = tmp_path / "summary"
    path.write_text("")
    Workflow({"GITHUB_STEP_SUMMARY": str(path)}, io.StringIO()).summary("x" * size)
    assert path.stat().st_size == (size if size <= 1024 * 1024 else 0)


def test_build_output_is_fenced_off_from_command_processing() -> None:
    out = io.StringIO()
    runner = Workflow({}, out)
    runner.untrusted("::add-mask::x")
    runner.untrusted("plain\r::error::after a carriage return")
    runner.issue("group", "Push")  # the action's own command: the fence closes first
    runner.untrusted("::set-output name=digest::evil")
    runner.flush_untrusted()
    lines = out.getvalue().split("\n")
    assert lines[0].startswith("::stop-commands::")
    first = lines[0].split("::")[2]
    assert lines[1:4] == [
        "::add-mask::x",
        "plain\r::error::after a carriage return",
        f"::{first}::",
    ]
    assert lines[4] == "::group::Push"
    second = lines[5].split("::")[2]
    assert lines[5:8] == [
        f"::stop-commands::{second}",
        "::set-output name=digest::evil",
        f"::{second}::",
    ]
    assert first != second and len(first) == 32
    obeyed = obeyed_commands(out.getvalue())
    assert [c.name for c in obeyed] == ["group"]
