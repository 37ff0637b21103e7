"""The stand-in of actions/cache that act runs for the action's `type=gha` steps.

The action's restore and save steps use actions/cache, pinned by commit (action.yml). act
fetches every action a composite action uses before it runs any step, and there is no network
here: each act run maps that commit to a directory with `--local-repository`. The directory
holds `restore/` and `save/` actions with actions/cache's inputs and outputs, made of the same
@actions/cache library calls (restoreCache, saveCache), which talk to act's own cache server
exactly as actions/cache does. The library is installed by scripts/setup.sh beside the venv.
"""

from __future__ import annotations

import re
import shutil
import sys
from functools import lru_cache
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent / "actions_cache"
ROOT = Path(__file__).resolve().parents[2]
_PINNED = re.compile(r"uses: actions/cache/(?:restore|save)@([0-9a-f]{40})\b")


@lru_cache(maxsize=1)
def pinned_commit() -> str:
    """The commit of actions/cache that action.yml uses (restore and save alike)."""
    found: set[str] = set(_PINNED.findall((ROOT / "action.yml").read_text(encoding="utf-8")))
    assert len(found) == 1, f"action.yml pins actions/cache at {sorted(found)}"
    return found.pop()


def local_repository(directory: Path) -> tuple[str, str]:
    """act's arguments mapping the pinned actions/cache to the stand-in at `directory` (as
    the job sees it)."""
    return ("--local-repository", f"actions/cache@{pinned_commit()}={directory}")


def node_modules() -> Path:
    """Where scripts/setup.sh installed @actions/cache: beside the venv running the tests."""
    return Path(sys.executable).parent.parent.parent / "actions-cache" / "node_modules"


def assemble_stand_in(directory: Path) -> Path:
    """The stand-in's directory, made at `directory`."""
    modules = node_modules()
    if not (modules / "@actions" / "cache").is_dir():
        pytest.fail(f"no @actions/cache in {modules}: run scripts/setup.sh", pytrace=False)
    directory.mkdir()
    for name in ("restore", "save", "dist"):
        shutil.copytree(SOURCE / name, directory / name)
    (directory / "node_modules").symlink_to(modules)
    return directory
