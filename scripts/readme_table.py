"""Regenerate the README's inputs/outputs tables from action.yml (`--check` to verify only)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
START = "<!-- action-table:start -->"
END = "<!-- action-table:end -->"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(action: dict[str, Any]) -> str:
    lines = ["### Inputs", "", "| name | default | description |", "| --- | --- | --- |"]
    for name, spec in action["inputs"].items():
        default = str(spec.get("default", ""))
        shown = f"`{default}`" if default else ""
        lines.append(f"| `{name}` | {shown} | {_cell(spec['description'])} |")
    lines += ["", "### Outputs", "", "| name | description |", "| --- | --- |"]
    for name, spec in action["outputs"].items():
        lines.append(f"| `{name}` | {_cell(spec['description'])} |")
    return "\n".join(lines)


def updated_readme(readme: str, action: dict[str, Any]) -> str:
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(readme):
        raise SystemExit(f"README.md lacks the {START} ... {END} markers")
    return pattern.sub(lambda _m: f"{START}\n{render(action)}\n{END}", readme)


def main(argv: list[str]) -> int:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    readme_path = ROOT / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    fresh = updated_readme(readme, action)
    if "--check" in argv:
        if fresh != readme:
            print("README.md's action table is stale: run python3 scripts/readme_table.py")
            return 1
        return 0
    readme_path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
