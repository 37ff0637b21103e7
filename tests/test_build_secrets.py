"""Build secrets inputs: parsing, validation, flags. Errors never repeat a value."""

from __future__ import annotations

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
        ({"secret_files": "f=missing.txt"}, r"input 'secret-files': 'missing.txt' is not a file"),
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
