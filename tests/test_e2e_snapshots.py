"""End to end: how kaniko's snapshot settings shape the image. `single-snapshot` gives one layer
on top of the base image's and misses no change; `snapshot-mode: redo` or `time` and
`use-new-run` keep a file's old content when a RUN step rewrites it and restores its
modification time, which is why the action warns when they are asked for."""

from __future__ import annotations

import pytest

from .support.action import ActionHarness
from .support.registry import Registry
from .support.workflow_commands import obeyed_commands

pytestmark = pytest.mark.e2e

# /data is written by one RUN step and rewritten by the next with content of the same size and
# the same modification time; /etc/passwd (from the base image) is rewritten in place the same
# way, its modification time taken back from /etc/group (the base gives both the same one).
REWRITES = """\
FROM {base}
COPY app.txt /app.txt
RUN printf 'OLD-CONTENT\\n' > /data && touch -d '2021-01-01 00:00:00' /data
RUN printf 'NEW-CONTENT\\n' > /data && touch -d '2021-01-01 00:00:00' /data \\
 && printf toor | dd of=/etc/passwd conv=notrunc 2>/dev/null && touch -r /etc/group /etc/passwd
"""


def base_layers(registry: Registry) -> list[str]:
    manifest = registry.client().resolve_image("base/busybox", "latest").manifest
    return [layer["digest"] for layer in manifest["layers"]]


def test_single_snapshot_is_one_layer_on_the_base_and_misses_nothing(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", REWRITES.format(base=busybox_image))
    harness.write("app.txt", "copied\n")
    run = harness.run(
        tags=f"{registry.host}/e2e/single-snapshot:1",
        insecure_registries=registry.host,
        single_snapshot="true",
    )
    assert run.returncode == 0, run.stdout
    manifest = registry.client().resolve_image("e2e/single-snapshot", "1").manifest
    layers = [layer["digest"] for layer in manifest["layers"]]
    base = base_layers(registry)
    # The base image's layers unchanged (shared on pull), then one for the three steps.
    assert layers[: len(base)] == base
    assert len(layers) == len(base) + 1
    files = registry.client().image_files("e2e/single-snapshot", "1")
    assert files["app.txt"].text == "copied\n"
    assert files["data"].text == "NEW-CONTENT\n"
    assert files["etc/passwd"].text.startswith("toor:")
    assert [c.message for c in obeyed_commands(run.stdout) if c.name == "warning"] == []
    assert run.host_changes == []


@pytest.mark.parametrize(
    ("inputs", "warned"),
    [
        ({"snapshot_mode": "redo"}, "input 'snapshot-mode': 'redo' can keep a file's old content"),
        ({"snapshot_mode": "time"}, "input 'snapshot-mode': 'time' can keep a file's old content"),
        ({"use_new_run": "true"}, "input 'use-new-run': can keep a file's old content"),
    ],
)
def test_snapshots_by_metadata_keep_old_content_and_warn(
    harness: ActionHarness,
    registry: Registry,
    busybox_image: str,
    inputs: dict[str, str],
    warned: str,
) -> None:
    harness.write("Dockerfile", REWRITES.format(base=busybox_image))
    harness.write("app.txt", "copied\n")
    run = harness.run(
        tags=f"{registry.host}/e2e/by-metadata:1", insecure_registries=registry.host, **inputs
    )
    assert run.returncode == 0, run.stdout
    warnings = [c.message for c in obeyed_commands(run.stdout) if c.name == "warning"]
    assert any(warned in w for w in warnings), warnings
    files = registry.client().image_files("e2e/by-metadata", "1")
    # What the warning says: the rewrite is not in the image.
    assert files["data"].text == "OLD-CONTENT\n"
    assert files["etc/passwd"].text.startswith("root:")
    assert run.host_changes == []
