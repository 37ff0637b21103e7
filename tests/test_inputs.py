"""Reading and parsing raw input values."""

from __future__ import annotations

import pytest

from kaniko_action.errors import InputError
from kaniko_action.spec.inputs import (
    DEFAULTS,
    env_name,
    parse_bool,
    parse_list,
    parse_pairs,
    read_raw_inputs,
)


@pytest.mark.parametrize(
    ("name", "variable"),
    [("context", "INPUT_CONTEXT"), ("build-args", "INPUT_BUILD-ARGS"), ("a b", "INPUT_A_B")],
)
def test_env_name_follows_actions_core(name: str, variable: str) -> None:
    assert env_name(name) == variable


def test_read_raw_inputs_applies_defaults_and_trims() -> None:
    raw = read_raw_inputs({"INPUT_TAGS": "  a:1\n", "INPUT_PUSH": " false "})
    assert raw["tags"] == "a:1"
    assert raw["push"] == "false"
    assert raw["tag"] == DEFAULTS["tag"] == "latest"
    assert raw["context"] == ""


def test_set_but_empty_input_stays_empty() -> None:
    assert read_raw_inputs({"INPUT_TAG": ""})["tag"] == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        (" true ", True),
    ],
)
def test_parse_bool_yaml_core_schema(value: str, expected: bool) -> None:
    assert parse_bool("push", value) is expected


@pytest.mark.parametrize("value", ["yes", "1", "on", "", "tRue", "no"])
def test_parse_bool_rejects_other_words(value: str) -> None:
    with pytest.raises(InputError, match=r"input 'push': .* is not a boolean"):
        parse_bool("push", value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\nb", ["a", "b"]),
        ("a,b", ["a", "b"]),
        (" a , b \n\n c ", ["a", "b", "c"]),
        ("r/x:1\r\nr/x:2\n", ["r/x:1", "r/x:2"]),
        ("has space", ["has space"]),
        ("", []),
    ],
)
def test_parse_list(value: str, expected: list[str]) -> None:
    assert parse_list(value) == expected


def test_parse_list_without_commas() -> None:
    assert parse_list("a,b\nc", commas=False) == ["a,b", "c"]


def test_parse_pairs_keeps_spaces_and_equals_in_values() -> None:
    text = "GREETING=hello big world\nQUERY=a=b=c\n\nEMPTY=\n"
    assert parse_pairs("build-args", text) == [
        ("GREETING", "hello big world"),
        ("QUERY", "a=b=c"),
        ("EMPTY", ""),
    ]


@pytest.mark.parametrize("line", ["NOEQUALS", "=value", "TWO WORDS=x"])
def test_parse_pairs_rejects_malformed_lines(line: str) -> None:
    with pytest.raises(InputError, match="input 'labels'"):
        parse_pairs("labels", line)
