"""The metadata output and the job summary."""

from __future__ import annotations

import json

from kaniko_action.build.report import BuildReport, summary_markdown


def pushed() -> BuildReport:
    return BuildReport(
        destinations=["reg/app:1", "reg/app:latest"],
        pushed=True,
        digest="sha256:" + "a" * 64,
        image="reg/app@sha256:" + "a" * 64,
        kaniko_version="v1.24.0",
        base_images=["debian:bookworm"],
        cache_enabled=True,
        cache_hits=3,
        cache_misses=1,
        phases={"Build": 10.04, "Push": 1.5},
        duration=12.3456,
    )


def test_metadata_has_build_push_action_keys() -> None:
    meta = json.loads(pushed().metadata())
    assert meta["containerimage.digest"] == meta["digest"] == "sha256:" + "a" * 64
    assert meta["image.name"] == "reg/app:1,reg/app:latest"
    assert meta["destinations"] == ["reg/app:1", "reg/app:latest"]
    assert meta["cache"] == {"enabled": True, "hits": 3, "misses": 1}
    assert meta["duration-seconds"] == 12.346
    assert meta["kaniko.version"] == "v1.24.0"


def test_not_pushed_lists_no_destinations() -> None:
    report = BuildReport(destinations=["reg/app:1"], tar_path="/w/image.tar")
    meta = json.loads(report.metadata())
    assert meta["destinations"] == []
    assert meta["tar-path"] == "/w/image.tar"
    text = summary_markdown(report)
    assert text.startswith("### kaniko-build: image built\n")
    assert "| Name | `reg/app:1` |" in text
    assert "| Tarball | `/w/image.tar` |" in text


def test_summary_of_a_push() -> None:
    text = summary_markdown(pushed())
    assert "| Destination | `reg/app:latest` |" in text
    assert f"| Digest | `sha256:{'a' * 64}` |" in text
    assert "| Base image | `debian:bookworm` |" in text
    assert "| Cache | 3 hit(s), 1 miss(es) |" in text
    assert "| Duration | 12.3s (Build 10.0s, Push 1.5s) |" in text


def test_summary_of_a_failure_escapes_table_characters() -> None:
    report = BuildReport(
        destinations=["reg/app:1"],
        failure="instruction `RUN a | b` failed",
        failure_location="Dockerfile:4",
    )
    text = summary_markdown(report)
    assert text.startswith("### kaniko-build: image failed\n")
    assert "**Failure (Dockerfile:4):** `instruction 'RUN a \\| b' failed`" in text


def test_line_breaks_from_build_output_cannot_leave_the_table_row() -> None:
    report = BuildReport(
        destinations=["reg/app:1"],
        failure="step failed\r| injected | row |\n# heading",
        failure_location="Dockerfile:3",
    )
    text = summary_markdown(report)
    failure_line = next(line for line in text.splitlines() if line.startswith("**Failure"))
    assert "\r" not in text
    assert "injected" in failure_line and "heading" in failure_line
    assert not any(line.startswith("# heading") for line in text.splitlines())


def test_summary_says_how_run_steps_ran() -> None:
    report = BuildReport(
        destinations=["reg/app:1"],
        run_environment="chroot without /proc (a | b)",
    )
    assert "| RUN steps | chroot without /proc (a \\| b) |" in summary_markdown(report)
    assert "RUN steps" not in summary_markdown(BuildReport(destinations=["reg/app:1"]))
