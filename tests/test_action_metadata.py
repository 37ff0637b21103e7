"""action.yml must agree with the code's input and output definitions."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaniko_action.build.outputs import OUTPUTS
from kaniko_action.spec.inputs import INPUTS, env_name
from kaniko_action.workflow.gha_cache import RESTORED_KEY_ENV

ROOT = Path(__file__).resolve().parent.parent


def load_action() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_inputs_match_definitions() -> None:
    declared = load_action()["inputs"]
    assert list(declared) == [i.name for i in INPUTS]
    for item in INPUTS:
        entry = declared[item.name]
        assert entry["description"] == item.description, item.name
        assert str(entry.get("default", "")) == item.default, item.name
        assert bool(entry.get("required", False)) == item.required, item.name


def test_outputs_match_definitions() -> None:
    declared = load_action()["outputs"]
    assert list(declared) == [o.name for o in OUTPUTS]
    for item in OUTPUTS:
        assert declared[item.name]["description"] == item.description
        assert declared[item.name]["value"] == f"${{{{ steps.build.outputs.{item.name} }}}}"


def test_every_input_reaches_the_script_through_env_only() -> None:
    action = load_action()
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    (step,) = [s for s in steps if s.get("id") == "build"]
    # The step's process must be the action itself: the runner signals only that process.
    assert step["run"].splitlines()[-1] == 'exec python3 "$GITHUB_ACTION_PATH/entrypoint.py"'
    assert step["env"] == {
        **{env_name(i.name): f"${{{{ inputs.{i.name} }}}}" for i in INPUTS},
        RESTORED_KEY_ENV: "${{ steps.gha-restore.outputs.cache-matched-key }}",
    }
    for other in steps:
        assert "${{" not in other.get("run", ""), other


def test_the_github_actions_cache_steps_run_only_for_a_gha_cache() -> None:
    """actions/cache is pinned by commit, its steps never fail the build, and they and the
    steps around them run only when an entry of cache-from / cache-to may be type=gha."""
    steps = load_action()["runs"]["steps"]
    ids = [s.get("id", s.get("uses", s.get("run", ""))[:20]) for s in steps]
    assert ids[:3] == ["gha-cache", "gha-restore", "build"], ids
    plan, restore, _, save, cleanup = steps
    assert plan["if"] == "contains(inputs.cache-from, 'gha') || contains(inputs.cache-to, 'gha')"
    assert plan["run"].splitlines()[-1].endswith('entrypoint.py" gha-cache')
    assert set(plan["env"]) == {env_name(n) for n in ("cache-from", "cache-to", "no-cache",
                                                       "no-cache-filters")}  # fmt: skip
    assert plan["continue-on-error"] is True
    for step, action in ((restore, "restore"), (save, "save")):
        assert re.fullmatch(rf"actions/cache/{action}@[0-9a-f]{{40}}", step["uses"]), step
        assert step["continue-on-error"] is True
    assert restore["if"] == "steps.gha-cache.outputs.restore-path != ''"
    assert "steps.build.outputs.gha-cache-key != ''" in save["if"]
    assert cleanup["if"].startswith("always() && ")


def test_action_yml_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("action_yml", ROOT / "scripts" / "action_yml.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (ROOT / "action.yml").read_text(encoding="utf-8"), (
        "action.yml is stale: run python3 scripts/action_yml.py"
    )


def test_readme_table_is_generated_from_action_yml() -> None:
    spec = importlib.util.spec_from_file_location(
        "readme_table", ROOT / "scripts" / "readme_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert module.updated_readme(readme, load_action()) == readme, (
        "README.md's inputs/outputs table is stale: run python3 scripts/readme_table.py"
    )


@pytest.mark.parametrize(
    ("workspace", "container"),
    [("/home/runner/_work/app/app", False), ("/__w/app/app", True)],
)
def test_a_step_without_python3_says_so(tmp_path: Path, workspace: str, container: bool) -> None:
    """A job container's image may have no python3: one error, naming the image to use
    when the workspace is where the runner mounts it in job containers."""
    (step,) = [s for s in load_action()["runs"]["steps"] if s.get("id") == "build"]
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    empty = tmp_path / "bin"
    empty.mkdir()
    done = subprocess.run(
        ["/bin/bash", "--noprofile", "--norc", "-e", "-o", "pipefail", str(script)],
        env={"PATH": str(empty), "GITHUB_WORKSPACE": workspace, "GITHUB_ACTION_PATH": str(ROOT)},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    (line,) = done.stdout.splitlines()
    assert line.startswith("::error title=Runner::kaniko-build needs python3 (3.9 or later)")
    assert ("runner image built from kaniko-build's Dockerfile" in line) == container
