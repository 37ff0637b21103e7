"""deploy/: the gha-runner-scale-set values parse, hold what the action needs and nothing more,
and every field and every diagnostic the guide names is where, and what, it says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaniko_action.errors import ActionError
from kaniko_action.sandbox.kaniko_files import check_executor_dir
from kaniko_action.sandbox.namespaces import RunEnvironment
from kaniko_action.sandbox.preflight import (
    MountFlags,
    check_capabilities,
    check_free_space,
    check_work_base,
)
from kaniko_action.sandbox.privileges import no_new_privs_message, no_root_message

ROOT = Path(__file__).resolve().parents[1]
VALUES = ROOT / "deploy" / "values.yaml"
GUIDE = ROOT / "deploy" / "README.md"
ABSENT = "(absent)"
# Top-level keys of the chart's values.yaml (actions/actions-runner-controller,
# charts/gha-runner-scale-set).
CHART_KEYS = {
    "githubConfigUrl", "githubConfigSecret", "scaleSetLabels", "proxy", "maxRunners",
    "minRunners", "runnerGroup", "runnerScaleSetName", "fullnameOverride", "githubServerTLS",
    "keyVault", "containerMode", "listenerTemplate", "listenerMetrics", "template",
    "controllerServiceAccount", "namespaceOverride", "annotations", "labels", "resourceMeta",
}  # fmt: skip
MISSING = object()


def values() -> dict[str, Any]:
    data = yaml.safe_load(VALUES.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def table(section: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table under the `## section` heading."""
    text = GUIDE.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in body.splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    return rows[2:]


def code(cell: str) -> str:
    match = re.fullmatch(r"`([^`]+)`", cell)
    assert match, f"not a code span: {cell}"
    return match.group(1)


def lookup(data: Any, path: str) -> Any:
    """`a.b[name].c`: mapping keys, and list items picked by their `name`."""
    for part in path.split("."):
        match = re.fullmatch(r"([A-Za-z]+)(?:\[([a-z-]+)\])?", part)
        assert match, part
        key, name = match.groups()
        if not isinstance(data, dict) or key not in data:
            return MISSING
        data = data[key]
        if name is not None:
            found = [item for item in data if isinstance(item, dict) and item.get("name") == name]
            assert len(found) == 1, f"{path}: {len(found)} items named {name}"
            data = found[0]
    return data


def test_values_parse_as_the_charts_values() -> None:
    data = values()
    assert set(data) <= CHART_KEYS
    assert data["githubConfigUrl"] and data["githubConfigSecret"]
    (container,) = data["template"]["spec"]["containers"]
    # The chart merges its defaults into the container named `runner`.
    assert container["name"] == "runner"


FIELD_ROWS = table("What the runner pod needs")


def test_the_guide_names_every_field() -> None:
    named = {code(row[1]) for row in FIELD_ROWS}
    assert {
        "template.spec.containers[runner].image",
        "template.spec.containers[runner].securityContext.capabilities.add",
        "template.spec.containers[runner].securityContext.allowPrivilegeEscalation",
        "template.spec.containers[runner].volumeMounts[work].mountPath",
        "template.spec.volumes[work].emptyDir",
        "containerMode",
    } <= named


@pytest.mark.parametrize("row", FIELD_ROWS, ids=[row[1] for row in FIELD_ROWS])
def test_each_field_the_guide_names_is_where_it_says(row: list[str]) -> None:
    found = lookup(values(), code(row[1]))
    if row[2] == ABSENT:
        assert found is MISSING
    else:
        assert found == yaml.safe_load(code(row[2]))


def walk(data: Any) -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        return [(k, v) for k, v in data.items()] + [p for v in data.values() for p in walk(v)]
    if isinstance(data, list):
        return [p for v in data for p in walk(v)]
    return []


def test_nothing_more_than_the_action_needs() -> None:
    data = values()
    spec = data["template"]["spec"]
    assert set(spec) == {"containers", "volumes"}
    (container,) = spec["containers"]
    assert set(container) == {"name", "image", "command", "securityContext", "volumeMounts"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": True,
        "capabilities": {"add": ["SYS_CHROOT", "MKNOD"]},
    }
    assert spec["volumes"] == [{"name": "work", "emptyDir": {}}]
    keys = {key for key, _ in walk(data)}
    assert not keys & {"privileged", "hostPath", "hostPID", "hostNetwork", "runAsUser"}
    # A pinned image, not a moving tag.
    assert not container["image"].endswith(":latest")


MEMORY_VOLUME = "kaniko-work"


def uncommented_example() -> dict[str, Any]:
    """values.yaml with its optional memory-backed work volume uncommented: each commented
    item `# - name: kaniko-work` and the lines indented under it."""
    lines = VALUES.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    inside: str | None = None
    for line in lines:
        start = re.fullmatch(rf"(\s*)# (- name: {MEMORY_VOLUME})", line)
        if start:
            inside = start.group(1)
            out.append(inside + start.group(2))
            continue
        if inside is not None and line.startswith(inside + "#   "):
            out.append(inside + line[len(inside) + 2 :])
            continue
        inside = None
        out.append(line)
    data = yaml.safe_load("\n".join(out))
    assert isinstance(data, dict)
    return data


def test_the_optional_memory_backed_work_dir_is_a_sized_memory_volume_the_guide_names() -> None:
    spec = uncommented_example()["template"]["spec"]
    (container,) = spec["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert set(mounts) == set(volumes) == {"work", MEMORY_VOLUME}
    assert volumes[MEMORY_VOLUME]["emptyDir"]["medium"] == "Memory"
    assert re.fullmatch(r"\d+[GM]i", volumes[MEMORY_VOLUME]["emptyDir"]["sizeLimit"])
    path = mounts[MEMORY_VOLUME]
    # Outside the work volume, where the workspace is (work-dir must not hold it or be in it).
    assert not path.startswith(mounts["work"] + "/") and not mounts["work"].startswith(path)
    guide = GUIDE.read_text(encoding="utf-8")
    assert f"work-dir: {path}" in guide
    assert f"sizeLimit: {volumes[MEMORY_VOLUME]['emptyDir']['sizeLimit']}" in guide
    # Commented out, the values stay what the action needs and nothing more.
    assert [v["name"] for v in values()["template"]["spec"]["volumes"]] == ["work"]


def diagnostics(tmp_path: Path) -> list[str]:
    """The messages a runner missing each thing gets (the e2e tests produce them for real)."""
    found: list[str] = []

    def caught(call: Any, *args: Any) -> None:
        with pytest.raises(ActionError) as raised:
            call(*args)
        found.append(str(raised.value))

    caught(check_capabilities, "CapEff:\t0000000000000000\n", 0)
    found.append(no_new_privs_message(1001))
    found.append(no_root_message(1001, "`sudo -n` refused (sudo: a password is required)"))
    caught(check_executor_dir, tmp_path)
    caught(check_work_base, tmp_path, MountFlags(nodev=True, noexec=False, readonly=False))
    caught(check_work_base, tmp_path, MountFlags(nodev=False, noexec=True, readonly=False))
    caught(check_free_space, tmp_path, 1 << 40, 0)
    caught(check_free_space, tmp_path, 1 << 40, 0, True)
    found.append(RunEnvironment(reason="the runner has no CAP_SYS_ADMIN").missing_proc_advice())
    return found


def test_every_diagnostic_in_the_guide_is_what_the_action_says(tmp_path: Path) -> None:
    messages = diagnostics(tmp_path)
    quoted = [code(row[1]) for row in table("When something is missing")]
    for fragment in quoted:
        assert any(fragment in m for m in messages), f"the action never says {fragment!r}"
    for message in messages:
        assert any(f in message for f in quoted), f"the guide does not explain: {message}"


def test_the_kubernetes_mode_pod_template_adds_exactly_the_two_capabilities() -> None:
    template = yaml.safe_load((ROOT / "deploy" / "job-pod-template.yaml").read_text())
    assert template == {
        "spec": {
            "containers": [
                {
                    "name": "$job",
                    "securityContext": {
                        "allowPrivilegeEscalation": True,
                        "capabilities": {"add": ["SYS_CHROOT", "MKNOD"]},
                    },
                }
            ]
        }
    }


def test_the_container_job_example_uses_the_runner_image_with_the_capabilities() -> None:
    workflow = yaml.safe_load((ROOT / "deploy" / "container-job.yml").read_text())
    (job,) = workflow["jobs"].values()
    container = job["container"]
    assert container["image"] == lookup(values(), "template.spec.containers[runner].image")
    assert container["options"] == "--cap-add SYS_CHROOT --cap-add MKNOD"
    uses = [step["uses"] for step in job["steps"]]
    assert uses[-1].endswith("/kaniko-build@v3")
