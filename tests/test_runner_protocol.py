"""The runner protocol module against a parser of the runner's file-command format."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from kaniko_action.workflow.commands import Workflow, command, escape_data, escape_property

from .support.action import parse_file_command
from .support.workflow_commands import obeyed_commands

# The runner sets GITHUB_ACTIONS=true; without it the same calls print plain lines.
IN_RUNNER = {"GITHUB_ACTIONS": "true"}


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
    Workflow(IN_RUNNER, buf).mask("first\nsecond\n")
    assert buf.getvalue().splitlines() == ["::add-mask::first", "::add-mask::second"]


def test_phases_report_their_durations() -> None:
    buf = io.StringIO()
    phases = Workflow(IN_RUNNER, buf).phases()
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
    runner = Workflow(IN_RUNNER, out)
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


def test_outside_a_runner_the_log_is_plain_text() -> None:
    """In a terminal (the command line) nothing reads workflow commands: no fences, no
    masks, no `::group::`, annotations as readable lines."""
    out = io.StringIO()
    runner = Workflow({"GITHUB_ACTIONS": "false"}, out)
    phases = runner.phases()
    phases.start("Build")
    runner.mask("s3cret")
    runner.untrusted("Step 1/2 : FROM busybox")
    runner.untrusted("::error::printed by a RUN step")
    runner.warning("input 'builder' has no effect")
    runner.notice("nothing is pushed")
    runner.error("instruction failed", title="Build failed", file="Dockerfile", line=3)
    runner.error("bad input", title="Invalid input")
    phases.end()
    lines = out.getvalue().splitlines()
    assert lines[:7] == [
        "==> Build",
        "Step 1/2 : FROM busybox",
        "::error::printed by a RUN step",
        "warning: input 'builder' has no effect",
        "notice: nothing is pushed",
        "error: Build failed: instruction failed (Dockerfile:3)",
        "error: Invalid input: bad input",
    ]
    assert lines[7].startswith("Build: ") and len(lines) == 8
    assert "stop-commands" not in out.getvalue() and "s3cret" not in out.getvalue()


def test_the_command_line_prints_plain_text_in_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kaniko_action.cli import inputs_from_args, main, parser

    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    status = main(["--workspace", str(tmp_path), "Dockerfile", "Bad/Ref:1"])
    printed = capsys.readouterr().out
    assert status == 1
    assert printed.splitlines()[0] == "==> Resolve inputs"
    assert (
        "error: Invalid input: input 'tags': 'Bad/Ref:1' is not a valid image reference" in printed
    )
    assert "::" not in printed
    # A destination is pushed to, as the v2 script did; without one the build only builds.
    assert inputs_from_args(parser().parse_args(["Dockerfile", "r/a:1"]))["push"] == "true"
    assert inputs_from_args(parser().parse_args(["Dockerfile"]))["push"] == "false"
    assert inputs_from_args(parser().parse_args(["-t", "r/a:1", "--no-push"]))["push"] == "false"


def _outputs_env(tmp_path: Path, target: Path) -> dict[str, str]:
    link = tmp_path / "output"
    os.symlink(target, link)
    return {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(link)}


def test_a_file_command_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "root-owned"
    victim.write_text("root's\n")
    os.chown(victim, 0, 0)
    buf = io.StringIO()
    Workflow(_outputs_env(tmp_path, victim), buf).set_output("digest", "sha256:1")
    assert victim.read_text() == "root's\n"
    assert "::warning::GITHUB_OUTPUT" in buf.getvalue() and "symbolic link" in buf.getvalue()


def test_a_dangling_link_is_not_created_through(tmp_path: Path) -> None:
    target = tmp_path / "made-by-root"
    buf = io.StringIO()
    Workflow(_outputs_env(tmp_path, target), buf).set_output("digest", "sha256:1")
    assert not target.exists()
    assert "not written" in buf.getvalue()


def test_a_fifo_does_not_hang_the_step(tmp_path: Path) -> None:
    fifo = tmp_path / "summary"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so opening succeeds
    try:
        buf = io.StringIO()
        env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(fifo)}
        Workflow(env, buf).summary("x\n")
        assert "not a regular file" in buf.getvalue()
        assert os.read(reader, 10) == b""
    finally:
        os.close(reader)
    buf = io.StringIO()
    Workflow({"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(fifo)}, buf).summary("x\n")
    assert "not written" in buf.getvalue()  # no reader: refused at once, not blocked


def test_a_file_command_of_another_user_is_not_written(tmp_path: Path) -> None:
    other = tmp_path / "output"
    other.write_text("")
    os.chown(other, 1002, 1002)
    buf = io.StringIO()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(other), "SUDO_UID": "1001"}
    Workflow(env, buf).set_output("digest", "sha256:1")
    assert other.read_text() == ""
    assert "not writable by the job's user (uid 1001): owned by uid 1002, mode 644" in (
        buf.getvalue()
    )


def test_the_job_users_writable_files_are_written_by_the_re_run(tmp_path: Path) -> None:
    """act's file-command files in a job container are root's, mode 0666."""
    env = {"GITHUB_ACTIONS": "true", "SUDO_UID": "1001"}
    for name, uid, mode in (("own", 1001, 0o644), ("acts", 0, 0o666)):
        path = tmp_path / name
        path.write_text("")
        os.chown(path, uid, uid)
        path.chmod(mode)
        buf = io.StringIO()
        Workflow({**env, "GITHUB_OUTPUT": str(path)}, buf).set_output("a", "b")
        assert "a<<" in path.read_text() and buf.getvalue() == "", name


def test_a_hard_link_to_roots_file_is_not_written_by_root(tmp_path: Path) -> None:
    """A job run as root names no user (SUDO_UID unset, a job container's files may be the
    outer runner's): a file with a second link is still refused."""
    victim = tmp_path / "root-owned"
    victim.write_text("root's\n")
    os.link(victim, tmp_path / "output")
    buf = io.StringIO()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "output")}
    Workflow(env, buf).set_output("digest", "sha256:1")
    assert victim.read_text() == "root's\n"
    assert "a file with 2 links: not written" in buf.getvalue()


def test_a_job_run_as_root_writes_a_file_of_the_outer_runner(tmp_path: Path) -> None:
    """In a job container the job is root and the files belong to the runner's user."""
    output = tmp_path / "output"
    output.write_text("")
    os.chown(output, 1001, 1001)
    buf = io.StringIO()
    Workflow({"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output)}, buf).set_output("a", "b")
    assert "a<<" in output.read_text() and "warning" not in buf.getvalue()
