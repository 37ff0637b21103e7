"""The package's shape: every module imports (CI runs 3.9 too) and says what it is for, and
imports only go down the layers, never up.

The layers, lowest first. A module may import from its own package and from any package
below it. Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import kaniko_action

LAYERS = (
    ("errors",),
    ("utils",),
    ("cancellation",),
    ("dockerfile",),
    ("oci",),
    ("spec",),
    ("workflow",),
    ("sandbox",),
    ("executor",),
    ("registry",),
    ("staging",),
    ("platforms",),
    ("build",),
    ("main", "cli", "__main__"),
)
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}
PACKAGE_DIR = Path(kaniko_action.__file__).parent

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(kaniko_action.__path__, "kaniko_action.")
    if m.name != "kaniko_action.__main__"
)


def _top(module: str) -> str:
    """`kaniko_action.spec.inputs` -> `spec`."""
    return module.split(".")[1]


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of the package in a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target == "kaniko_action" or (node.module is None and target):
                found += [(node.lineno, f"{target}.{a.name}") for a in node.names]
            elif target.startswith("kaniko_action."):
                found.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name) for a in node.names if a.name.startswith("kaniko_action.")
            ]
    return found


def _source(module: str) -> Path:
    relative = Path(*module.split(".")[1:])
    package = PACKAGE_DIR / relative / "__init__.py"
    return package if package.is_file() else PACKAGE_DIR / relative.with_suffix(".py")


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} says what it is for"


def test_every_top_level_name_has_a_layer() -> None:
    tops = {_top(m) for m in MODULES} | {"__main__"}
    assert tops == set(LEVEL), "add new packages to LAYERS (or remove gone ones)"
    assert "kaniko_action.sandbox.chroot" in MODULES and "kaniko_action.main" in MODULES


@pytest.mark.parametrize("name", [*MODULES, "kaniko_action.__main__"])
def test_imports_go_down_the_layers(name: str) -> None:
    own = LEVEL[_top(name)]
    upward = [
        f"line {line}: {target}"
        for line, target in _imports(_source(name), name)
        if LEVEL[_top(target)] > own
    ]
    assert not upward, f"{name} imports from a higher layer: {', '.join(upward)}"


def test_the_layer_check_sees_relative_and_lazy_imports(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "from ..build.report import BuildReport\n"
        "def f() -> None:\n"
        "    from .. import main\n"
        "    from . import layout\n",
        encoding="utf-8",
    )
    found = [target for _line, target in _imports(source, "kaniko_action.sandbox.probe")]
    assert found == [
        "kaniko_action.build.report",
        "kaniko_action.main",
        "kaniko_action.sandbox.layout",
    ]
