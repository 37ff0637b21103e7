"""Context and Dockerfile resolution against the workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kaniko_action.errors import InputError
from kaniko_action.spec.paths import output_base, output_path, resolve_paths, work_dir


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "app").mkdir(parents=True)
    (root / "dockerfiles").mkdir()
    (root / "Dockerfile").write_text("FROM scratch\n")
    (root / "app" / "Dockerfile").write_text("FROM scratch\n")
    (root / "dockerfiles" / "Dockerfile.prd").write_text("FROM scratch\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "Dockerfile").write_text("FROM scratch\n")
    return root


@pytest.mark.parametrize(
    ("context", "file", "dockerfile", "want_context", "want_file"),
    [
        ("", "", "", ".", "Dockerfile"),
        ("", "app/Dockerfile", "", "app", "app/Dockerfile"),
        ("", "", "app/Dockerfile", "app", "app/Dockerfile"),
        ("app", "", "", "app", "app/Dockerfile"),
        (".", "dockerfiles/Dockerfile.prd", "", ".", "dockerfiles/Dockerfile.prd"),
        ("app", "dockerfiles/Dockerfile.prd", "", "app", "dockerfiles/Dockerfile.prd"),
        ("./app/", "app/Dockerfile", "./app/Dockerfile", "app", "app/Dockerfile"),
    ],
)
def test_defaults_and_resolution(
    ws: Path, context: str, file: str, dockerfile: str, want_context: str, want_file: str
) -> None:
    paths = resolve_paths(str(ws), context, file, dockerfile)
    assert paths.context == (ws / want_context).resolve()
    assert paths.dockerfile == (ws / want_file).resolve()


def test_dockerfile_outside_context_is_reported(ws: Path) -> None:
    assert not resolve_paths(str(ws), "app", "dockerfiles/Dockerfile.prd", "").dockerfile_in_context
    assert resolve_paths(str(ws), ".", "app/Dockerfile", "").dockerfile_in_context


def test_absolute_path_inside_workspace_is_accepted(ws: Path) -> None:
    paths = resolve_paths(str(ws), str(ws / "app"), "", "")
    assert paths.dockerfile == ws.resolve() / "app" / "Dockerfile"


@pytest.mark.parametrize(
    ("context", "file", "dockerfile", "message"),
    [
        ("", "app/Dockerfile", "Dockerfile", r"input 'file': .* differs from 'dockerfile'"),
        ("", "missing/Dockerfile", "", r"input 'file': 'missing/Dockerfile' does not exist"),
        ("", "", "nope", r"input 'dockerfile': 'nope' does not exist"),
        ("missing", "", "", r"input 'context': 'missing' does not exist"),
        ("", "../outside/Dockerfile", "", r"input 'file': .* is outside the workspace"),
        ("..", "", "", r"input 'context': '\.\.' is outside the workspace"),
        ("/etc", "", "", r"input 'context': '/etc' is outside the workspace"),
        ("", "app", "", r"input 'file': 'app' is not a regular file"),
        ("Dockerfile", "", "", r"input 'context': 'Dockerfile' is not a directory"),
        ("dockerfiles", "", "", r"input 'file': 'dockerfiles/Dockerfile' does not exist"),
    ],
)
def test_refusals_name_input_and_path(
    ws: Path, context: str, file: str, dockerfile: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        resolve_paths(str(ws), context, file, dockerfile)


def test_symlink_pointing_outside_is_refused(ws: Path) -> None:
    os.symlink(ws.parent / "outside" / "Dockerfile", ws / "LinkedDockerfile")
    os.symlink(ws.parent / "outside", ws / "linkedctx")
    with pytest.raises(
        InputError, match=r"input 'file': 'LinkedDockerfile' resolves to .* symlink"
    ):
        resolve_paths(str(ws), "", "LinkedDockerfile", "")
    with pytest.raises(InputError, match=r"input 'context': 'linkedctx' resolves to .* symlink"):
        resolve_paths(str(ws), "linkedctx", "", "")


def test_symlink_inside_workspace_is_followed(ws: Path) -> None:
    os.symlink("app", ws / "current")
    paths = resolve_paths(str(ws), "current", "", "")
    assert paths.context == ws.resolve() / "app"


def test_broken_symlink_is_refused(ws: Path) -> None:
    os.symlink("does-not-exist", ws / "Broken")
    with pytest.raises(InputError, match=r"input 'file': 'Broken' is a broken symlink"):
        resolve_paths(str(ws), "", "Broken", "")


class TestOutputPaths:
    """tar-path and oci-layout-path: confined to the workspace (or RUNNER_TEMP) after
    symlinks are resolved; an existing directory is never replaced unless it is a layout."""

    @pytest.fixture
    def temp(self, tmp_path: Path) -> Path:
        path = tmp_path / "runner-temp"
        path.mkdir()
        return path

    @pytest.mark.parametrize(
        ("name", "value", "message"),
        [
            ("tar-path", "..", "not inside the workspace or RUNNER_TEMP"),
            ("tar-path", ".", "not inside"),
            ("oci-layout-path", "../outside", "not inside"),
            ("tar-path", "/etc/image.tar", "not inside"),
            ("oci-layout-path", "/", "not inside"),
            ("tar-path", "escape/image.tar", "through a symlink"),
            ("tar-path", "app", "is a directory"),
            ("oci-layout-path", "Dockerfile", "exists and is not a directory"),
            ("oci-layout-path", "app", "is never replaced"),
        ],
    )
    def test_refused(self, ws: Path, temp: Path, name: str, value: str, message: str) -> None:
        (ws / "escape").symlink_to(ws.parent / "outside")
        with pytest.raises(InputError, match=rf"input '{name}': .*{message}"):
            output_path(name, ws, value, temp)

    def test_runner_temp_but_not_a_work_directory_in_it(self, ws: Path, temp: Path) -> None:
        assert output_path("tar-path", ws, f"{temp}/image.tar", temp) == temp / "image.tar"
        with pytest.raises(InputError, match="inside a kaniko-build work directory"):
            output_path("tar-path", ws, f"{temp}/kaniko-build-abc/x.tar", temp)
        with pytest.raises(InputError, match=r"not inside the workspace$"):
            output_path("tar-path", ws, f"{temp}/image.tar", None)

    def test_links_inside_the_workspace_resolve_to_real_paths(self, ws: Path) -> None:
        (ws / "out").symlink_to(ws / "app")
        assert output_path("tar-path", ws, "out/image.tar") == ws / "app" / "image.tar"

    def test_an_earlier_layout_or_an_empty_directory_may_be_replaced(self, ws: Path) -> None:
        (ws / "layout").mkdir()
        (ws / "layout" / "oci-layout").write_text("{}")
        (ws / "empty").mkdir()
        assert output_path("oci-layout-path", ws, "layout") == ws / "layout"
        assert output_path("oci-layout-path", ws, "empty") == ws / "empty"
        assert output_base(ws / "layout", ws, None) == ws


class TestWorkDir:
    """The `work-dir` input: where work directories go instead of RUNNER_TEMP."""

    @pytest.fixture
    def fast(self, ws: Path) -> Path:
        path = ws.parent / "fast"
        path.mkdir()
        return path

    def test_unset_is_none(self, ws: Path) -> None:
        assert work_dir(ws, "") is None

    def test_absolute_or_relative_to_the_workspace_as_a_real_path(
        self, ws: Path, fast: Path
    ) -> None:
        assert work_dir(ws, str(fast)) == fast
        assert work_dir(ws, "../fast") == fast
        assert work_dir(ws, f"{fast}/") == fast
        (ws.parent / "link").symlink_to(fast)
        assert work_dir(ws, str(ws.parent / "link")) == fast

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("../missing", r"'../missing' is not a directory \(looked for .*/missing\)"),
            ("../outside/Dockerfile", "is not a directory"),
            (".", "inside the workspace"),
            ("app", "inside the workspace"),
            ("./app/../dockerfiles", "inside the workspace"),
            ("{link_in}", "resolves to .*/ws/app, which is inside the workspace"),
            ("..", "holds the workspace"),
            ("/", "holds the workspace"),
            ("../kaniko-build-fast", "named like a kaniko-build work directory"),
            ("../kaniko-build-x/sub", "named like a kaniko-build work directory"),
            ("../.kaniko-build-new-x", "named like a kaniko-build work directory"),
        ],
    )
    def test_refused(self, ws: Path, value: str, message: str) -> None:
        (ws.parent / "kaniko-build-fast").mkdir()
        (ws.parent / "kaniko-build-x" / "sub").mkdir(parents=True)
        (ws.parent / ".kaniko-build-new-x").mkdir()
        link_in = ws.parent / "link-in"
        link_in.symlink_to(ws / "app")
        with pytest.raises(InputError, match=rf"^input 'work-dir': .*{message}"):
            work_dir(ws, value.format(link_in=link_in))

    def test_an_output_may_not_go_into_a_work_directory_under_it(
        self, ws: Path, tmp_path: Path
    ) -> None:
        temp = tmp_path / "temp"
        (temp / "fast").mkdir(parents=True)
        fast = temp / "fast"
        assert output_path("tar-path", ws, f"{fast}/i.tar", temp, fast) == fast / "i.tar"
        with pytest.raises(InputError, match="inside a kaniko-build work directory"):
            output_path("tar-path", ws, f"{fast}/kaniko-build-abc/i.tar", temp, fast)
