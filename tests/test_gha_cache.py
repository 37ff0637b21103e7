"""`type=gha` caches: the plan step's outputs, the keys, the spec's local cache in the
workspace, the key the build step hands to the save, and the staged context without the
cache's directory. The whole round trip through act is in test_act_parity.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kaniko_action.build.caching import gha_cache_key
from kaniko_action.sandbox.layout import chroot_layout
from kaniko_action.spec.build_spec import BuildSpec, build_spec
from kaniko_action.spec.gha import DIRECTORY_PREFIX, GhaCache, gha_cache
from kaniko_action.spec.inputs import DEFAULTS, env_name
from kaniko_action.staging.context import place_context
from kaniko_action.workflow.gha_cache import plan_outputs

WS = "/home/runner/_work/app/app"
DIR = DIRECTORY_PREFIX + "f32de15df92372bf"  # scope "buildkit"
KEY = "kaniko-build-cache/buildkit/"


def env(**inputs: str) -> dict[str, str]:
    found = {env_name(k.replace("_", "-")): v for k, v in inputs.items()}
    return {"GITHUB_WORKSPACE": WS, "GITHUB_ACTIONS": "true", **found}


@pytest.mark.parametrize(
    ("inputs", "outputs"),
    [
        (
            {"cache_from": "type=gha", "cache_to": "type=gha,mode=max"},
            {"restore-path": DIR, "restore-key": KEY, "save-path": DIR},
        ),
        # Pull requests without write access: read only.
        ({"cache_from": "type=gha"}, {"restore-path": DIR, "restore-key": KEY}),
        # buildx reads no cache without a cache-from.
        ({"cache_to": "type=gha,mode=max"}, {"save-path": DIR}),
        # Read the main branch's scope, write the pull request's.
        (
            {"cache_from": "type=gha,scope=main", "cache_to": "type=gha,scope=pr-7"},
            {
                "restore-path": gha_cache("main", WS).name,
                "restore-key": "kaniko-build-cache/main/",
                "save-path": gha_cache("pr-7", WS).name,
            },
        ),
        ({"cache_from": "type=gha,scope=a/b,c"}, {}),  # a CSV field without `=`: not an entry
        (
            {"cache_from": 'type=gha,"scope=a/b,c"'},
            {"restore-path": gha_cache("a/b,c", WS).name, "restore-key": "kaniko-build-cache/a%2Fb%2Cc/"},
        ),
        # kaniko uses one cache: cache-to's registry; the gha entry is only warned about.
        ({"cache_from": "type=gha", "cache_to": "type=registry,ref=reg/app:c"}, {}),
        ({"cache_from": "type=gha", "no_cache": "true"}, {}),
        ({"cache_from": "type=gha", "no_cache_filters": "deps"}, {}),
        # The build step reports bad inputs; this step plans nothing.
        ({"cache_from": "type=gha", "no_cache": "maybe"}, {}),
        ({"cache_from": "type=local,src=/tmp/c", "cache_to": "type=local,dest=/tmp/c"}, {}),
        ({"cache_from": "ghcr.io/me/gha-cache:latest"}, {}),
    ],
)  # fmt: skip
def test_the_plan_step_outputs(inputs: dict[str, str], outputs: dict[str, str]) -> None:
    assert plan_outputs(env(**inputs)) == outputs


def test_keys_of_one_scope_never_start_another_scopes_prefix() -> None:
    app, worker = gha_cache("app", WS), gha_cache("app-worker", WS)
    assert not worker.key(["kaniko:" + "0" * 64]).startswith(app.prefix)
    assert app.directory == f"{WS}/{app.name}" and app.name != worker.name
    assert gha_cache(None, WS) == gha_cache("buildkit", WS)


def test_a_key_names_the_set_of_entries() -> None:
    cache = gha_cache("buildkit", WS)
    one, two = "kaniko:" + "1" * 64, "kaniko:" + "2" * 64
    assert cache.key([one, two]) == cache.key([two, one, one])
    assert cache.key([one]) != cache.key([one, two])
    assert len(cache.key([one])) == len(KEY) + 32


def test_a_long_scope_is_named_by_its_digest() -> None:
    cache = GhaCache("s" * 600, WS, "x")
    assert cache.prefix.startswith("kaniko-build-cache/sha256-")
    assert len(cache.key(["kaniko:" + "1" * 64])) < 512


def spec(ws: Path, *, workflow: bool = True, **inputs: str) -> BuildSpec:
    raw = dict(DEFAULTS)
    raw.update({k.replace("_", "-"): v for k, v in inputs.items()})
    environment = {"GITHUB_ACTIONS": "true"} if workflow else {}
    return build_spec(raw, str(ws), None, environment)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY . /ctx/\n")
    return tmp_path


def test_in_a_workflow_a_gha_cache_is_a_local_cache_in_the_workspace(ws: Path) -> None:
    built = spec(ws, cache_from="type=gha", cache_to="type=gha,mode=max")
    local = built.local_cache
    assert local is not None and local.gha is not None
    assert local.src == local.dest == ws / DIR
    assert built.warnings == ()


def test_outside_a_workflow_a_gha_cache_is_a_warning(ws: Path) -> None:
    built = spec(ws, workflow=False, cache_from="type=gha", cache_to="type=gha,mode=max")
    assert built.local_cache is None
    assert len(built.warnings) == 2
    assert all("reached from a workflow step only" in w for w in built.warnings)


@pytest.mark.parametrize("kind", ["symlink", "file"])
def test_a_committed_file_in_the_caches_place_turns_the_cache_off(
    ws: Path, tmp_path_factory: pytest.TempPathFactory, kind: str
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    if kind == "symlink":
        (ws / DIR).symlink_to(elsewhere)
    else:
        (ws / DIR).write_text("not a cache\n")
    built = spec(ws, cache_from="type=gha", cache_to="type=gha,mode=max", tags="reg/app:1")
    # No layer cache at all: not kaniko's default one in the destination's repository either.
    assert (built.local_cache, built.cache) == (None, False)
    assert [w for w in built.warnings if "is not a directory" in w and DIR in w]
    assert list(elsewhere.iterdir()) == []


def _entries(directory: Path, *names: str) -> None:
    directory.mkdir()
    for name in names:
        (directory / name).mkdir()


def test_the_save_key_is_given_only_for_new_entries(ws: Path) -> None:
    built = spec(ws, cache_from="type=gha", cache_to="type=gha,mode=max")
    assert built.local_cache is not None and built.local_cache.gha is not None
    echoed: list[str] = []
    assert gha_cache_key(built, "", echoed.append) is None  # nothing written
    one = "kaniko:" + "1" * 64
    _entries(ws / DIR, one, "kaniko-build-cache", "stray")
    key = gha_cache_key(built, "", echoed.append)
    assert key == built.local_cache.gha.key([one])
    assert gha_cache_key(built, key, echoed.append) is None
    assert echoed == ["Layer cache: the same 1 entries as restored; not saved again"]
    registry = spec(ws, cache_from="type=registry,ref=reg/app:c", tags="reg/app:1")
    assert gha_cache_key(registry, "", echoed.append) is None


def test_the_caches_directory_is_not_part_of_the_context(
    ws: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _entries(ws / DIR, "kaniko:" + "1" * 64)
    (ws / "app.txt").write_text("app\n")
    built = spec(ws)
    layout = chroot_layout(built.paths)
    root = tmp_path_factory.mktemp("chroot")
    place_context(str(root), built.paths, layout)
    staged = root / str(layout.context_dir).lstrip("/")
    assert sorted(os.listdir(staged)) == ["Dockerfile", "app.txt"]


def test_a_cache_to_the_job_user_cannot_write_is_a_warning_and_the_cache_is_read(
    ws: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root_only = tmp_path_factory.mktemp("root-only")
    os.chmod(root_only, 0o755)
    raw = dict(DEFAULTS)
    raw.update(
        {
            "cache-from": f"type=local,src={root_only}/c",
            "cache-to": f"type=local,dest={root_only}/c",
        }
    )
    built = build_spec(raw, str(ws), None, {"SUDO_UID": "1001", "SUDO_GID": "1001"})
    assert built.local_cache is not None
    assert (built.local_cache.src, built.local_cache.dest) == (root_only / "c", None)
    (warning,) = built.warnings
    assert warning.startswith("input 'cache-to': ") and warning.endswith(
        "the layer cache is not written"
    )
