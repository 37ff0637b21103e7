"""The ignore-file matcher: table tests of kaniko's rules, and property tests against
moby/patternmatcher itself (the versions kaniko v1.24.0 and the maintained fork pin)."""

from __future__ import annotations

import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaniko_action.dockerfile.ignore import (
    IgnoreFileError,
    Matcher,
    UnsupportedPattern,
    decode,
    glob_rejects,
    go_clean,
    go_trim_space,
    read_patterns,
)

from .support import oracle
from .support.ignore_corpus import CASES, Case, all_paths


def matcher(text: str) -> Matcher:
    return Matcher(read_patterns(text.encode()))


# ------------------------------------------------------------------ reading the file


@pytest.mark.parametrize(
    ("data", "patterns"),
    [
        (b"", []),
        (b"\n\n", []),
        (b"a\nb", ["a", "b"]),
        (b"a\r\nb\r\n", ["a", "b"]),
        (b"\xef\xbb\xbfa\n\xef\xbb\xbfb\n", ["a", "\ufeffb"]),  # a BOM only on the first line
        (b"# comment\n #not a comment\n", ["#not a comment"]),
        (b"  spaced  \t\n", ["spaced"]),
        (b"a\x1f\n", ["a\x1f"]),  # not a space for Go
        ("a\u00a0\u3000\n".encode(), ["a"]),  # Unicode spaces are
        (b"/abs/path\n//x\n/\n", ["abs/path", "x", "/"]),
        (b"a/../b\n./c/\nd/.\n../e\n", ["b", "c", "d", "../e"]),
        (b"!a\n! /b/ \n!\n! \n", ["!a", "!b", "!", "!"]),
        (b"\\#x\n", ["\\#x"]),
    ],
)
def test_read_patterns(data: bytes, patterns: list[str]) -> None:
    assert read_patterns(data) == patterns


def test_overlong_line_is_an_error() -> None:
    with pytest.raises(IgnoreFileError):
        read_patterns(b"x" * 70000 + b"\n")


@pytest.mark.parametrize(
    ("path", "clean"),
    [
        ("", "."),
        ("a//b/", "a/b"),
        ("//a", "/a"),
        ("/../a", "/a"),
        ("a/../../b", "../b"),
        ("./.", "."),
        ("a/./b/..", "a"),
    ],
)
def test_go_clean(path: str, clean: str) -> None:
    assert go_clean(path) == clean


def test_go_trim_space() -> None:
    assert go_trim_space("\x85\t a \u2028") == "a"
    assert go_trim_space("\x1ca\x1c") == "\x1ca\x1c"


@pytest.mark.parametrize(
    ("pattern", "rejected"),
    [
        ("*", False),
        ("[", True),
        ("[]a]", True),
        ("[a-]", True),
        ("a\\", True),
        ("[^a]", False),
        ("[\\]]", False),
        ("a*[", False),  # Go stops checking once the first chunk fails against "."
        ("*[", True),
        (".[", True),
    ],
)
def test_glob_rejects_like_filepath_match(pattern: str, rejected: bool) -> None:
    assert glob_rejects(pattern) is rejected


# ------------------------------------------------------------------ kaniko's rules


@pytest.mark.parametrize(
    ("ignore", "path", "excluded"),
    [
        ("node_modules", "node_modules", True),
        ("node_modules", "node_modules/a/b.js", True),
        ("node_modules", "web/node_modules/a.js", False),
        # Matches only tries the parent cut to the pattern's length: "**/x" has two parts.
        ("**/node_modules", "node_modules", True),
        ("**/node_modules", "node_modules/x", False),
        ("**/node_modules", "web/node_modules/x", True),
        ("**/node_modules", "a/b/node_modules/x", False),
        ("**/*.pyc", "a/b/c.pyc", True),
        ("*.log\n!keep.log", "keep.log", False),
        ("*.log\n!keep.log", "other.log", True),
        ("dir\n!dir/keep", "dir/keep", False),
        ("dir\n!dir/keep", "dir/keep/below", False),
        ("dir\n!dir/keep", "dir/other", True),
        ("*\n!src", "src/deep/file", False),
        ("/abs", "abs", True),
        ("a/../b", "b", True),
        ("docs/my file.txt  ", "docs/my file.txt", True),
        (".*", ".git/HEAD", True),
        (".*", "a/.hidden", False),
        ("?ode_modules", "node_modules", True),
        ("[a-c]*", "beta", True),
        ("[a-c]*", "delta", False),
        ("**", "anything/at/all", True),
        ("a/**", "a", False),
        ("a/**", "a/b", True),
        ("**foo", "xfoo", True),  # the suffix kind compares bytes, not the expression
        ("*.js|*.css", "x.css", True),  # '|' reaches the Go expression unescaped
        ("*.js|*.css", "x.jsx/y", True),
        ("x?{2}", "xab", True),  # '{' too: a repetition of the '?' class
        ("x?{2}", "xa", False),
        ("x{2}", "x{2}", True),  # no wildcard: an exact comparison
        ("x*{2}", "xyy", False),  # a nested repetition: Go cannot compile it, path kept
        ("\\d*", "1abc", True),
        ("node_modules\n!", "node_modules", False),  # New fails: nothing is excluded
        ("node_modules\n[", "node_modules", False),
        ("[z-a]*\nnode_modules", "node_modules", False),  # reached first, fails: kept
        ("node_modules\n[z-a]*", "node_modules", True),  # never reached once excluded
        (".", "anything", False),
        ("*", ".", False),
    ],
)
def test_excludes(ignore: str, path: str, excluded: bool) -> None:
    assert matcher(ignore).excludes(path) is excluded


@pytest.mark.parametrize(
    ("ignore", "directory", "skip"),
    [
        ("node_modules", "node_modules", True),
        ("node_modules\n!node_modules/keep", "node_modules", False),
        ("node_modules\n!node_modules/keep", "node_modules/other", True),
        ("node_modules\n!**/keep", "node_modules", False),
        ("node_modules\n!*.md", "node_modules", True),  # *.md has one part: top level only
        ("*\n!src", "docs", True),
        ("*\n!src", "src", False),
        ("build/**", "build", True),
        ("build/**\n!build/x", "build", False),
        ("**/node_modules", "node_modules", False),  # its content is kept by kaniko
        ("**/node_modules", "web/node_modules", True),
        ("**", "a", True),
        ("**\n!a/b/c", "a", False),
        ("**\n!a/b/c", "x", True),
        ("*.js|*.css\n", "x", False),  # an unanchored alternative could match anywhere
        ("node_modules\n!\\pL", "node_modules", False),
        ("", "any", False),
        ("node_modules\n[z-a]", "node_modules", False),
    ],
)
def test_excludes_all_below(ignore: str, directory: str, skip: bool) -> None:
    try:
        m = matcher(ignore)
    except UnsupportedPattern:
        assert not skip
        return
    assert m.excludes_all_below(directory) is skip


def test_unicode_groups_are_not_modelled() -> None:
    with pytest.raises(UnsupportedPattern):
        matcher("\\pL*")


def test_names_that_are_not_utf8() -> None:
    m = Matcher(read_patterns(b"bad?name\nexact\xff\n"))
    assert m.excludes(decode(b"bad\xffname"))  # '?' matches the byte Go decodes to U+FFFD
    assert m.excludes(decode(b"exact\xff"))
    assert not m.excludes(decode(b"exact\xfe"))


# ------------------------------------------------------------------ properties

ALPHABET = "ab./*?![]^-\\ #{}|,0123\u00e9\t"
segment = st.text(alphabet="ab.*?[]-\\ {}|\u00e9\n", min_size=1, max_size=4).filter(
    lambda s: s not in (".", "..")
)
rel_path = st.lists(segment, min_size=1, max_size=4).map("/".join)
ignore_line = st.text(alphabet=ALPHABET, max_size=12)
ignore_file = st.lists(ignore_line, max_size=5).map("\n".join)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Each example of these asks the Go reference (a process) once.
REFERENCE_SETTINGS = settings(SETTINGS, max_examples=100)


@SETTINGS
@given(ignore_file, rel_path)
def test_leading_slash_and_dot_segments_do_not_change_answers(ignore: str, path: str) -> None:
    lines = ignore.split("\n")
    rooted = "\n".join(
        ("!/" + line[1:]) if line.startswith("!") else "/" + line if line.strip() else line
        for line in lines
    )
    try:
        plain, slashed = matcher(ignore), matcher(rooted)
    except UnsupportedPattern:
        return
    if any(line.strip().startswith("#") or line.strip() in ("", "!") for line in lines):
        return
    assert plain.excludes(path) == slashed.excludes(path)
    assert plain.excludes(path) == plain.excludes("./" + path + "/.")


@SETTINGS
@given(ignore_file, rel_path, st.lists(rel_path, min_size=1, max_size=8))
def test_a_skipped_directory_has_nothing_kept_below(
    ignore: str, directory: str, below: list[str]
) -> None:
    try:
        m = matcher(ignore)
    except UnsupportedPattern:
        return
    if m.excludes_all_below(directory):
        assert all(m.excludes(f"{directory}/{rest}") for rest in below)


# ------------------------------------------------------- against patternmatcher itself


@pytest.fixture(scope="module", params=["upstream", "fork"])
def reference(request: pytest.FixtureRequest) -> Path:
    try:
        return oracle.build(oracle.PINNED[request.param])
    except oracle.OracleUnavailable as e:
        pytest.skip(f"patternmatcher reference not available: {e}")


def _compare(binary: Path, ignore: bytes, paths: list[bytes]) -> Iterator[str]:
    answer = oracle.ask(binary, ignore, paths)
    try:
        mine = read_patterns(ignore)
    except IgnoreFileError:
        assert answer.read_error
        return
    assert [p.encode("utf-8", "surrogateescape") for p in mine] == answer.patterns
    try:
        m = Matcher(mine)
    except UnsupportedPattern:
        return
    for path, excluded in zip(paths, answer.excluded):
        if m.excludes(decode(path)) != excluded:
            yield f"{ignore!r} {path!r}: patternmatcher says {excluded}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_answers_match_patternmatcher(reference: Path, case: Case) -> None:
    paths = [p.encode() for p in all_paths()]
    for ignore in filter(None, (case.ignore, case.outside_ignore)):
        assert list(_compare(reference, ignore, paths)) == []


@REFERENCE_SETTINGS
@given(ignore_file, st.lists(rel_path, min_size=1, max_size=20))
def test_random_answers_match_patternmatcher(
    reference: Path, ignore: str, paths: list[str]
) -> None:
    encoded = [p.encode() for p in paths]
    assert list(_compare(reference, ignore.encode(), encoded)) == []


corpus_ignore = st.sampled_from([c.ignore for c in CASES if c.ignore])
corpus_path = st.sampled_from(all_paths())


@REFERENCE_SETTINGS
@given(
    st.one_of(corpus_ignore, ignore_file.map(str.encode)),
    st.one_of(corpus_path, rel_path),
    st.lists(st.text(alphabet=string.ascii_lowercase + "._/", min_size=1, max_size=8), max_size=6),
)
def test_skipped_directories_agree_with_patternmatcher(
    reference: Path, ignore: bytes, directory: str, below: list[str]
) -> None:
    """Whenever staging would skip a directory, patternmatcher excludes whatever is in it."""
    try:
        m = Matcher(read_patterns(ignore))
    except (UnsupportedPattern, IgnoreFileError):
        return
    directory = go_clean(directory)
    if directory.startswith(("..", "/")) or not m.excludes_all_below(directory):
        return
    names = [f"{directory}/{go_clean(rest)}" for rest in below if go_clean(rest) not in (".", "..")]
    names = [n for n in names if not go_clean(n).startswith("..") and go_clean(n) != directory]
    answer = oracle.ask(
        reference, ignore, [n.encode() for n in names] + [directory.encode() + b"/x"]
    )
    assert all(answer.excluded), (ignore, directory, names, answer.excluded)


def test_every_corpus_file_is_read_like_patternmatcher_reads_it(reference: Path) -> None:
    for case in CASES:
        answer = oracle.ask(reference, case.ignore, [])
        assert [p.encode("utf-8", "surrogateescape") for p in read_patterns(case.ignore)] == (
            answer.patterns
        )


@pytest.mark.parametrize("ignore", [b"**/node_modules\n", b"node_modules\n!node_modules/k\n"])
def test_reference_sees_the_kaniko_quirk(reference: Path, ignore: bytes) -> None:
    """The oracle answers what the table above says (a check of the reference itself)."""
    answer = oracle.ask(reference, ignore, [b"node_modules/x", b"node_modules/k"])
    m = Matcher(read_patterns(ignore))
    assert answer.excluded == [m.excludes("node_modules/x"), m.excludes("node_modules/k")]


def test_glob_rejects_agrees_with_patternmatcher(reference: Path) -> None:
    """ "q" matches first, so the pattern is never compiled for it: an error can only come
    from patternmatcher.New's check."""
    for pattern in ["[", "[]a]", "a*[", "*[", "[a-]", "a\\", "[\\", "x[^]", "[a]", "?"]:
        answer = oracle.ask(reference, b"q\n" + pattern.encode() + b"\n", [b"q"])
        assert (answer.errors[0] != "") == glob_rejects(pattern), pattern
