"""Context and Dockerfile resolution against the workspace, and where outputs may go."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from kaniko_action.errors import InputError
from kaniko_action.spec.paths import (
    cache_directory,
    output_base,
    output_path,
    resolve_paths,
    work_dir,
)
from kaniko_action.utils.users import JobUser, job_user

from .support.elsewhere import JOB_UID, OTHER_UID, elsewhere


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
    """tar-path and oci-layout-path: inside the workspace (or RUNNER_TEMP) after symlinks
    are resolved; an existing directory is never replaced unless it is a layout."""

    @pytest.fixture
    def temp(self, tmp_path: Path) -> Path:
        path = tmp_path / "runner-temp"
        path.mkdir()
        return path

    @pytest.mark.parametrize(
        ("name", "value", "message"),
        [
            ("tar-path", "..", "holds the workspace"),
            ("tar-path", ".", "holds the workspace"),
            ("oci-layout-path", "/", "resolves to /"),
            ("tar-path", "{temp}", "holds RUNNER_TEMP"),
            ("tar-path", "escape/image.tar", "through a symlink, which is not inside"),
            ("tar-path", "app", "is a directory"),
            ("tar-path", "Dockerfile/image.tar", "Dockerfile on the way is not a directory"),
            ("oci-layout-path", "Dockerfile", "exists and is not a directory"),
            ("oci-layout-path", "app", "is never replaced"),
        ],
    )
    def test_refused(self, ws: Path, temp: Path, name: str, value: str, message: str) -> None:
        (ws / "escape").symlink_to(ws.parent / "outside")
        with pytest.raises(InputError, match=rf"input '{name}': .*{message}"):
            output_path(name, ws, value.format(temp=temp), temp, user=None)
        assert sorted(os.listdir(ws.parent / "outside")) == ["Dockerfile"]

    def test_runner_temp_but_not_a_work_directory_in_it(self, ws: Path, temp: Path) -> None:
        place = output_path("tar-path", ws, f"{temp}/image.tar", temp, user=None)
        assert place == temp / "image.tar"
        with pytest.raises(InputError, match="inside a kaniko-build work directory"):
            output_path("tar-path", ws, f"{temp}/kaniko-build-abc/x.tar", temp, user=None)
        with pytest.raises(InputError, match="inside a kaniko-build work directory"):
            output_path("tar-path", ws, f"{temp}/.kaniko-build-new-abc/x", temp, user=None)

    def test_links_inside_the_workspace_resolve_to_real_paths(self, ws: Path) -> None:
        (ws / "out").symlink_to(ws / "app")
        assert output_path("tar-path", ws, "out/image.tar", user=None) == ws / "app" / "image.tar"

    def test_an_earlier_layout_or_an_empty_directory_may_be_replaced(self, ws: Path) -> None:
        (ws / "layout").mkdir()
        (ws / "layout" / "oci-layout").write_text("{}")
        (ws / "empty").mkdir()
        assert output_path("oci-layout-path", ws, "layout", user=None) == ws / "layout"
        assert output_path("oci-layout-path", ws, "empty", user=None) == ws / "empty"
        assert output_base(ws / "layout", ws, None) == ws


@pytest.fixture
def shared() -> Iterator[Path]:
    with elsewhere() as top:
        yield top


def job(uid: int = JOB_UID) -> JobUser:
    """The job's user of a re-run through sudo, as the action finds it."""
    user = job_user({"SUDO_UID": str(uid), "SUDO_GID": str(uid)})
    assert user is not None and user.uid == uid
    return user


@pytest.mark.skipif(os.geteuid() != 0, reason="the job's user is SUDO_UID's only for root")
class TestOutputsElsewhere:
    """Outputs outside the workspace and RUNNER_TEMP: a path without links, where the job's
    user could make it by mode bits (root, without SUDO_UID, anywhere root may)."""

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("tar-path", "{shared}/mine/image.tar"),
            ("tar-path", "{shared}/mine/new/deeper/image.tar"),
            ("tar-path", "{shared}/sticky/own.tar"),
            ("tar-path", "{shared}/sticky/new.tar"),
            ("tar-path", "{shared}/mine/file.txt"),
            ("oci-layout-path", "{shared}/mine/dir"),
            ("oci-layout-path", "{shared}/mine/full"),
            ("oci-layout-path", "{shared}/sticky/layout"),
        ],
    )
    def test_allowed_for_the_job_user(self, ws: Path, shared: Path, name: str, value: str) -> None:
        path = value.format(shared=shared)
        assert output_path(name, ws, path, user=job()) == Path(path)
        assert output_base(Path(path), ws, None) == Path("/")

    def test_a_new_file_in_tmp_itself(self, ws: Path) -> None:
        path = f"/tmp/kaniko-test-{os.urandom(6).hex()}.tar"
        assert output_path("tar-path", ws, path, user=job()) == Path(path)
        assert not os.path.lexists(path)  # the spec writes nothing

    @pytest.mark.parametrize(
        ("name", "value", "message"),
        [
            ("tar-path", "{shared}/rootonly/image.tar",
             r"\(uid 1001\) could write itself, and .*/rootonly \(uid 0, gid 0, mode 755\) "
             "does not let it create image.tar$"),
            ("tar-path", "{shared}/rootonly/new/image.tar", "does not let it create new$"),
            ("tar-path", "{shared}/private/image.tar", "private .*mode 700.* does not let it search"),
            ("tar-path", "{shared}/group/image.tar", r"group \(uid 0, gid 1002, mode 775\)"),
            ("tar-path", "{shared}/sticky/other.tar",
             "other.tar belongs to uid 1002 in the sticky directory .*/sticky, so only that "
             "user may replace it"),
            ("oci-layout-path", "{shared}/rootonly/layout", "does not let it replace layout"),
            ("tar-path", "{shared}/link/image.tar",
             "goes through the symlink .*/link: outside the workspace and RUNNER_TEMP an "
             "output's path must "
             "have no symlink on the way"),
            ("tar-path", "{shared}/mine/link.tar", "goes through the symlink .*/mine/link.tar"),
            ("tar-path", "{shared}/mine/dir", "is a directory; give a file name"),
            ("tar-path", "{shared}/mine/file.txt/image.tar",
             "file.txt on the way is not a directory"),
            ("oci-layout-path", "{shared}/mine/file.txt", "exists and is not a directory"),
            ("tar-path", "/tmp", "holds the workspace"),
        ],
    )  # fmt: skip
    def test_refused_for_the_job_user(
        self, ws: Path, shared: Path, name: str, value: str, message: str
    ) -> None:
        before = sorted(str(p) for p in shared.rglob("*"))
        with pytest.raises(InputError, match=rf"^input '{name}': '{shared}.*{message}"
                           if value.startswith("{shared}") else rf"^input '{name}': .*{message}"):  # fmt: skip
            output_path(name, ws, value.format(shared=shared), user=job())
        assert sorted(str(p) for p in shared.rglob("*")) == before

    @pytest.mark.parametrize(
        ("value", "refused"),
        [
            ("{shared}/mine/cache", None),
            ("{shared}/sticky/cache", None),
            ("{shared}/rootonly/cache", "does not let it create cache$"),
            ("{shared}/link/cache", "goes through the symlink"),
            ("{shared}/mine/file.txt", "exists and is not a directory"),
            ("/tmp", "holds the workspace"),
        ],
    )
    def test_a_local_cache_to_is_placed_as_an_output(
        self, ws: Path, shared: Path, value: str, refused: str | None
    ) -> None:
        """root replaces cache-to's directory: only where the job's user could make it; a
        cache-from is only read, from anywhere."""
        path = value.format(shared=shared)
        place = partial(cache_directory, "cache-to", ws, None, path, writes=True, user=job())
        if refused is None:
            assert place() == Path(path)
        else:
            with pytest.raises(InputError, match=rf"^input 'cache-to': .*{refused}"):
                place()
        src = f"{shared}/rootonly/layout"
        assert cache_directory("cache-from", ws, None, src, writes=False) == Path(src)

    def test_the_group_s_bits_count_for_its_members(self, ws: Path, shared: Path) -> None:
        """`group` is root's with group 1002 rwx: uid 1002 (whose group it is) may."""
        path = shared / "group" / "image.tar"
        assert output_path("tar-path", ws, str(path), user=job(OTHER_UID)) == path

    def test_a_job_run_as_root_writes_wherever_root_may(self, ws: Path, shared: Path) -> None:
        for name, value in (("tar-path", "rootonly/image.tar"), ("tar-path", "private/x.tar"),
                            ("tar-path", "sticky/other.tar"),
                            ("oci-layout-path", "rootonly/layout")):  # fmt: skip
            path = shared / value
            assert output_path(name, ws, str(path), user=None) == path
        # Links and work directories stay refused for root as well.
        with pytest.raises(InputError, match="goes through the symlink"):
            output_path("tar-path", ws, f"{shared}/link/image.tar", user=None)

    def test_not_in_a_work_directory_of_work_dir_nor_holding_it(
        self, ws: Path, shared: Path
    ) -> None:
        work = shared / "mine"
        (work / "kaniko-build-abc").mkdir()
        with pytest.raises(InputError, match="inside a kaniko-build work directory"):
            output_path("tar-path", ws, f"{work}/kaniko-build-abc/i.tar", None, work, user=job())
        with pytest.raises(InputError, match="holds the directory of 'work-dir'"):
            output_path("oci-layout-path", ws, str(shared), None, work, user=job())
        assert output_path("tar-path", ws, f"{work}/i.tar", None, work, user=job()) == (
            work / "i.tar"
        )

    def test_a_symlink_inside_the_workspace_still_cannot_lead_out(
        self, ws: Path, shared: Path
    ) -> None:
        """Even to a place the job's user could write: a committed link does not redirect."""
        (ws / "out").symlink_to(shared / "mine")
        with pytest.raises(InputError, match="through a symlink, which is not inside"):
            output_path("tar-path", ws, "out/image.tar", user=job())


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
        assert output_path("tar-path", ws, f"{fast}/i.tar", temp, fast, user=None) == (
            fast / "i.tar"
        )
        with pytest.raises(InputError, match="inside a kaniko-build work directory"):
            output_path("tar-path", ws, f"{fast}/kaniko-build-abc/i.tar", temp, fast, user=None)
