"""Every runtime module imports on the interpreter running the tests (CI runs 3.9 too)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import kaniko_action

MODULES = sorted(
    m.name
    for m in pkgutil.iter_modules(kaniko_action.__path__, "kaniko_action.")
    if m.name != "kaniko_action.__main__"
)


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} says what it is for"


def test_every_module_is_listed() -> None:
    assert "kaniko_action.sandbox" in MODULES and "kaniko_action.main" in MODULES
