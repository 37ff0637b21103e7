"""Build secrets inputs: parsing, validation, flags. Errors never repeat a value."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from kaniko_action.errors import InputError
from kaniko_action.executor.argv import secret_flags
from kaniko_action.executor.probe import offers_secrets
from kaniko_action.sandbox.layout import KANIKO_DIR, chroot_layout
from kaniko_action.spec.paths import BuildPaths
from kaniko_action.spec.secrets import (
    EXECUTOR_IMAGE_ARG,
    FORK_IMAGE,
    BuildSecret,
    parse_secrets,
    records,
    secret_input,
    without_secret_support,
)

from .support.fifo import error_without_waiting

ROOT = Path(__file__).resolve().parent.parent

SECRET = "s3cr3t-Value,with=signs"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", []),
        ("a=1\n\nb=2\n", [(1, "a=1"), (3, "b=2")]),
        # Commas stay part of the value (fields are joined back).
        ("a=1,2,3", [(1, "a=1,2,3")]),
        # Quoted records may hold newlines and quotes ("" is one quote).
        ('"a=line1\nline2"\nb=2', [(1, "a=line1\nline2"), (3, "b=2")]),
        ('"npm_token=x""y"', [(1, 'npm_token=x"y')]),
        # A quote inside an unquoted field is an ordinary character.
        ('a=x"y', [(1, 'a=x"y')]),
    ],
)
def test_records(value: str, expected: list[tuple[int, str]]) -> None:
    assert records(value) == expected


def test_records_of_large_values() -> None:
    big = "x" * 300_000
    assert records(f"cert={big}") == [(1, f"cert={big}")]


def raw(**values: str) -> dict[str, str]:
    base = {"secrets": "", "secret-files": "", "secret-envs": ""}
    base.update({k.replace("_", "-"): v for k, v in values.items()})
    return base


def test_the_three_inputs(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("key")
    found = parse_secrets(
        raw(
            secrets=f'token={SECRET}\n"multi=a\nb"',
            secret_files="key=key.pem\nabs=" + str(tmp_path / "key.pem"),
            secret_envs="npm=NPM_TOKEN,gh=GH_TOKEN",
        ),
        tmp_path,
        {"NPM_TOKEN": "n", "GH_TOKEN": "g"},
    )
    assert found == (
        BuildSecret("token", "value", SECRET),
        BuildSecret("multi", "value", "a\nb"),
        BuildSecret("key", "file", str(tmp_path / "key.pem")),
        BuildSecret("abs", "file", str(tmp_path / "key.pem")),
        BuildSecret("npm", "env", "NPM_TOKEN"),
        BuildSecret("gh", "env", "GH_TOKEN"),
    )
    assert SECRET not in repr(found)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"secrets": SECRET.replace("=", "")}, r"input 'secrets': line 1 is not of the form id=\.\.\. \(no '='\)"),
        ({"secrets": f"ok=1\n{SECRET}x"}, r"input 'secrets': line 2: the id before '=' must be"),
        ({"secrets": f"../x={SECRET}"}, r"input 'secrets': line 1: the id before '='"),
        ({"secrets": f"a,b={SECRET}"}, r"input 'secrets': line 1: the id"),
        ({"secrets": f"a={SECRET}\na=2"}, r"input 'secrets': line 2: id 'a' is also given in 'secrets'"),
        ({"secrets": "a=1", "secret_envs": "a=HOME"}, r"input 'secret-envs': line 1: id 'a' is also given"),
        ({"secret_files": "f=missing.txt"}, r"input 'secret-files': line 1 \(id 'f'\): the file does not exist"),
        ({"secret_files": "f="}, r"input 'secret-files': line 1: no path after 'f='"),
        ({"secret_envs": "e=NOT_SET_ANYWHERE"}, r"input 'secret-envs': entry 1: environment variable NOT_SET_ANYWHERE is not set"),
        ({"secret_envs": "e=not a name"}, r"input 'secret-envs': entry 1: 'not a name' is not an environment"),
    ],
)  # fmt: skip
def test_refused_without_repeating_values(
    tmp_path: Path, inputs: dict[str, str], message: str
) -> None:
    with pytest.raises(InputError, match=message) as caught:
        parse_secrets(raw(**inputs), tmp_path, {"HOME": "/root"})
    assert "s3cr3t" not in str(caught.value)


ROOT_ONLY = "root-only-Host-Key-4Vq"


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(workspace, RUNNER_TEMP, a root-only runner file outside both)."""
    workspace, temp = tmp_path / "ws", tmp_path / "temp"
    workspace.mkdir()
    temp.mkdir()
    secret = tmp_path / "rootonly"
    secret.write_text(ROOT_ONLY)
    secret.chmod(0o600)
    (workspace / "certs").mkdir()
    (workspace / "certs" / "real.pem").write_text("in the workspace")
    return workspace, temp, secret


def files_of(workspace: Path, temp: Path, value: str) -> tuple[BuildSecret, ...]:
    return parse_secrets(raw(secret_files=value), workspace, {}, temp)


OUTSIDE = r"the file resolves to a path not inside the workspace or RUNNER_TEMP"
THROUGH_LINK = (
    r"the file resolves through a symlink to a path not inside the workspace or RUNNER_TEMP"
)


@pytest.mark.parametrize(
    ("make", "value", "message"),
    [
        (None, "cert=../rootonly", OUTSIDE),
        (None, "cert={secret}", OUTSIDE),
        # The pull request replaced a committed file by a link to a runner file.
        (lambda ws, s: (ws / "certs" / "internal-ca.pem").symlink_to(s), "cert=certs/internal-ca.pem", THROUGH_LINK),
        # ... or a directory on the way.
        (lambda ws, s: (ws / "linked").symlink_to(s.parent), "cert=linked/rootonly", THROUGH_LINK),
        (lambda ws, s: os.mkfifo(ws / "fifo"), "cert=fifo", r"the file is not a regular file"),
        (lambda ws, s: None, "cert=certs", r"the file is not a regular file"),
        (lambda ws, s: (ws / "big").write_bytes(b"x" * (500 * 1024 + 1)), "cert=big", r"the file is larger than 500 KiB"),
        (lambda ws, s: (ws / "dangling").symlink_to(ws / "gone"), "cert=dangling", r"the file does not exist"),
    ],
)  # fmt: skip
def test_secret_files_stay_in_the_workspace(
    hostile: tuple[Path, Path, Path], make: object, value: str, message: str
) -> None:
    workspace, temp, secret = hostile
    if callable(make):
        make(workspace, secret)
    with pytest.raises(
        InputError, match=rf"input 'secret-files': line 2 \(id 'cert'\): {message}"
    ) as caught:
        files_of(workspace, temp, "ok=certs/real.pem\n" + value.format(secret=secret))
    assert str(secret) not in str(caught.value) and "rootonly" not in str(caught.value)


def test_secret_files_in_the_workspace_or_runner_temp(hostile: tuple[Path, Path, Path]) -> None:
    workspace, temp, _secret = hostile
    (temp / "token").write_text("from an earlier step")
    (workspace / "link.pem").symlink_to("certs/real.pem")  # a link that stays inside
    (workspace / "limit").write_bytes(b"x" * (500 * 1024))
    found = files_of(workspace, temp, f"a=certs/real.pem\nb={temp}/token\nc=link.pem\nd=limit")
    assert [s.source for s in found] == [
        str(workspace / "certs" / "real.pem"),
        str(temp / "token"),
        str(workspace / "certs" / "real.pem"),
        str(workspace / "limit"),
    ]
    assert found[2].value({}) == b"in the workspace"
    (temp / "kaniko-build-1234").mkdir()
    (temp / "kaniko-build-1234" / "s").write_text("another build's")
    with pytest.raises(InputError, match=r"line 1 \(id 'x'\): the file is inside a kaniko-build"):
        files_of(workspace, temp, f"x={temp}/kaniko-build-1234/s")


def test_a_secret_file_replaced_after_the_spec_is_not_followed(
    hostile: tuple[Path, Path, Path],
) -> None:
    workspace, temp, secret = hostile
    (found,) = files_of(workspace, temp, "cert=certs/real.pem")
    (workspace / "certs" / "real.pem").unlink()
    (workspace / "certs" / "real.pem").symlink_to(secret)
    with pytest.raises(InputError, match=r"input 'secret-files': id 'cert': the file is not a"):
        found.value({})
    (workspace / "certs" / "real.pem").unlink()
    (workspace / "certs" / "real.pem").write_bytes(b"x" * (500 * 1024 + 1))
    with pytest.raises(InputError, match=r"id 'cert': the file is larger than 500 KiB"):
        found.value({})


def test_a_secret_file_replaced_by_a_fifo_is_refused_without_waiting(
    hostile: tuple[Path, Path, Path],
) -> None:
    workspace, temp, _secret = hostile
    (found,) = files_of(workspace, temp, "cert=certs/real.pem")
    fifo = workspace / "certs" / "real.pem"
    fifo.unlink()
    os.mkfifo(fifo)
    error = error_without_waiting(fifo, lambda: found.value({}))
    assert isinstance(error, InputError)
    assert "id 'cert': the file is not a regular file" in str(error)


def test_flags_name_files_only() -> None:
    secrets = (BuildSecret("token", "value", SECRET), BuildSecret("npm", "env", "NPM_TOKEN"))
    paths = BuildPaths(Path("/w"), Path("/w"), Path("/w/Dockerfile"))
    layout = chroot_layout(paths)
    assert layout.kaniko_dir == KANIKO_DIR == PurePosixPath("/.kaniko-build")
    flags = secret_flags(secrets, layout)
    assert flags == (
        "--secret=id=token,src=/.kaniko-build/secret-src/0",
        "--secret=id=npm,src=/.kaniko-build/secret-src/1",
    )
    assert not any("s3cr3t" in f or "NPM_TOKEN" in f for f in flags)


def test_secret_input_names_the_first_input_used() -> None:
    assert secret_input((BuildSecret("a", "env", "X"),)) == "secret-envs"
    assert secret_input((BuildSecret("a", "env", "X"), BuildSecret("b", "file", "/f"))) == (
        "secret-files"
    )


@pytest.mark.parametrize(
    ("help_text", "offered"),
    [
        ("      --secret secret    Set build secrets in key=value format.", True),
        ("  -s, --secret stringArray   build secrets", True),
        ("      --secrets-dir string   no", False),
        ("      --skip-tls-verify   Pull and push ignoring TLS", False),
        ("", False),
    ],
)
def test_offers_secrets(help_text: str, offered: bool) -> None:
    assert offers_secrets(help_text) is offered


def test_the_refusal_says_how_to_switch_to_the_fork() -> None:
    """v1.24.0 (the archived upstream) has no --secret: the refusal names both ways to the
    maintained fork, the `executor-dir` input and the runner image's build argument, as the
    Dockerfile spells them."""
    message = without_secret_support("v1.24.0")
    assert message.startswith("build secrets need the maintained kaniko executor")
    assert "(v1.24.0) has no --secret" in message
    assert "'executor-dir' input" in message
    assert f"build argument {EXECUTOR_IMAGE_ARG} left at its default" in message
    assert f"{FORK_IMAGE}:<version>" in message
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"ARG {EXECUTOR_IMAGE_ARG}={FORK_IMAGE}:v" in dockerfile
    assert "(unknown version) has no --secret" in without_secret_support(None)
