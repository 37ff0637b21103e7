"""What kaniko's .dockerignore handling excludes, reproduced exactly. Pure.

Both executors (GoogleContainerTools/kaniko v1.24.0 and osscontainertools/kaniko) read the
ignore file with moby/patternmatcher's `ignorefile.ReadAll` and test every path they copy with
the package-level `patternmatcher.Matches(path, patterns)`, one path at a time: a directory that
matches does not hide what is below it, and a pattern is tested against the path itself and then
against the path's parent cut to as many components as the pattern has. That is not Docker's
behaviour (under kaniko `**/node_modules` leaves `node_modules/x` in), but it is what ends up in
the image, so it is what this module answers.

`read_patterns` is `ReadAll`; `Matcher(patterns).excludes(path)` is `Matches`. A pattern set
that `patternmatcher.New` rejects excludes nothing (kaniko logs the error and keeps the file);
a pattern whose regular expression Go cannot compile keeps every path that reaches it.
`Matcher.excludes_all_below(directory)` is True only when no path below the directory can be
kept, whatever its name: that is when staging may skip reading the directory.

Strings are file names and patterns decoded from bytes as UTF-8 with surrogateescape, so they
compare byte for byte as Go compares them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .goregex import GoRegex, GoSyntaxError

# Go's unicode.IsSpace, which strings.TrimSpace uses (Python's str.strip also takes \x1c-\x1f).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_BOM = b"\xef\xbb\xbf"
# bufio.Scanner refuses longer lines (ReadAll then fails, and so does the build).
MAX_LINE = 64 * 1024 - 2
# Go decodes each byte that is not UTF-8 to U+FFFD; surrogateescape made it U+DC80..U+DCFF.
_RUNE_ERROR = dict.fromkeys(range(0xDC80, 0xDD00), "\ufffd")
# Characters patternmatcher escapes before building its expression. Its table also names
# '{', '|' and '}', but their bits do not fit the byte it keeps them in: they go into the
# expression as they are (so `a|b` and `a{2}` mean what they mean in a Go expression).
_ESCAPED = frozenset(".+()$")


class IgnoreFileError(ValueError):
    """kaniko cannot read this ignore file (a line longer than bufio.Scanner allows)."""


class UnsupportedPattern(ValueError):
    """A pattern whose meaning this module does not reproduce; stage everything instead."""


def decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def go_trim_space(text: str) -> str:
    return text.strip(_GO_SPACE)


def go_clean(path: str) -> str:
    """Go's filepath.Clean on Linux."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    joined = "/".join(out)
    if rooted:
        return "/" + joined
    return joined or "."


def read_patterns(data: bytes) -> list[str]:
    """ignorefile.ReadAll: the patterns of an ignore file, in order."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    patterns: list[str] = []
    for number, raw in enumerate(lines):
        if len(raw) > MAX_LINE:
            raise IgnoreFileError(f"line {number + 1} is longer than {MAX_LINE} bytes")
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if number == 0 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        pattern = decode(line)
        if pattern.startswith("#"):
            continue
        pattern = go_trim_space(pattern)
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = go_trim_space(pattern[1:])
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


# ---------------------------------------------------------------- Go's filepath.Match


class _BadPattern(Exception):
    pass


def _rune_at(data: bytes, index: int) -> tuple[int, int]:
    """utf8.DecodeRune: (rune, width), (0xFFFD, 1) for a byte that starts no valid rune."""
    if data[index] < 0x80:
        return data[index], 1
    for width in (2, 3, 4):
        try:
            text = data[index : index + width].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(text) == 1:
            return ord(text), width
    return 0xFFFD, 1


def _scan_chunk(pattern: bytes) -> tuple[bool, bytes, bytes]:
    star = False
    while pattern[:1] == b"*":
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == 0x5C:  # backslash
            if i + 1 < len(pattern):
                i += 1
        elif c == 0x5B:
            in_range = True
        elif c == 0x5D:
            in_range = False
        elif c == 0x2A and not in_range:
            return star, pattern[:i], pattern[i:]
        i += 1
    return star, pattern, b""


def _get_esc(chunk: bytes) -> tuple[int, bytes]:
    if not chunk or chunk[0] in b"-]":
        raise _BadPattern
    if chunk[0] == 0x5C:
        chunk = chunk[1:]
        if not chunk:
            raise _BadPattern
    rune, width = _rune_at(chunk, 0)
    if rune == 0xFFFD and width == 1:
        raise _BadPattern
    rest = chunk[width:]
    if not rest:
        raise _BadPattern
    return rune, rest


def _match_chunk(chunk: bytes, s: bytes) -> tuple[bytes, bool]:
    failed = False
    while chunk:
        failed = failed or not s
        c = chunk[0]
        if c == 0x5B:  # [
            rune = -1
            if not failed:
                rune, width = _rune_at(s, 0)
                s = s[width:]
            chunk = chunk[1:]
            negated = chunk[:1] == b"^"
            if negated:
                chunk = chunk[1:]
            matched = False
            ranges = 0
            while True:
                if chunk[:1] == b"]" and ranges > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[0] == 0x2D:  # -
                    hi, chunk = _get_esc(chunk[1:])
                matched = matched or lo <= rune <= hi
                ranges += 1
            failed = failed or matched == negated
        elif c == 0x3F:  # ?
            if not failed:
                failed = s[0] == 0x2F
                _, width = _rune_at(s, 0)
                s = s[width:]
            chunk = chunk[1:]
        else:
            if c == 0x5C:
                chunk = chunk[1:]
                if not chunk:
                    raise _BadPattern
            if not failed:
                failed = chunk[0] != s[0]
                s = s[1:]
            chunk = chunk[1:]
    if failed:
        return b"", False
    return s, True


def _glob_match(pattern: bytes, name: bytes) -> bool:
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return b"/" not in name
        rest, ok = _match_chunk(chunk, name)
        if ok and (not rest or pattern):
            name = rest
            continue
        if star:
            found = False
            i = 0
            while i < len(name) and name[i] != 0x2F:
                rest, ok = _match_chunk(chunk, name[i + 1 :])
                if ok and not (not pattern and rest):
                    name = rest
                    found = True
                    break
                i += 1
            if found:
                continue
        return False
    return not name


def glob_rejects(pattern: str) -> bool:
    """Whether Go's filepath.Match(pattern, ".") returns ErrBadPattern (patternmatcher.New's
    syntax check)."""
    try:
        _glob_match(pattern.encode("utf-8", "surrogateescape"), b".")
    except _BadPattern:
        return True
    return False


# -------------------------------------------------------------- patternmatcher


@dataclass(frozen=True)
class Pattern:
    """One pattern as patternmatcher.New keeps it, compiled as Pattern.compile does."""

    text: str  # cleaned, without the leading '!'
    exclusion: bool
    depth: int  # number of '/'-separated parts
    kind: str  # "exact", "prefix", "suffix", "regexp", or "invalid" (Go cannot compile it)
    regex: GoRegex | None

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regex is not None
        return self.regex.search(path.translate(_RUNE_ERROR))

    def could_match_below(self, directory: str) -> bool:
        """False only when no path starting with `directory/` can match directly."""
        prefix = directory + "/"
        if self.kind == "exact":
            return self.text.startswith(prefix)
        if self.kind == "prefix":
            start = self.text[:-2]
            return start.startswith(prefix) or prefix.startswith(start)
        if self.kind == "regexp":
            assert self.regex is not None
            return self.regex.could_extend(prefix.translate(_RUNE_ERROR))
        return True


def _compile(text: str) -> tuple[str, str]:
    """patternmatcher's Pattern.compile: the match kind and the Go expression."""
    source = "^"
    kind = "exact"
    chars = text.translate(_RUNE_ERROR)
    if chars.startswith("\ufeff"):
        # text/scanner drops a leading byte order mark; the byte offsets of the suffix kind
        # would then disagree with these character offsets.
        raise UnsupportedPattern(f"pattern {text!r} starts with a byte order mark")
    pos = 0
    index = 0
    while pos < len(chars):
        ch = chars[pos]
        pos += 1
        if ch == "*":
            if pos < len(chars) and chars[pos] == "*":
                pos += 1
                if pos < len(chars) and chars[pos] == "/":
                    pos += 1
                if pos >= len(chars):
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        source += ".*"
                        kind = "regexp"
                else:
                    source += "(.*/)?"
                    kind = "regexp"
                if index == 0:
                    kind = "suffix"
            else:
                source += "[^/]*"
                kind = "regexp"
        elif ch == "?":
            source += "[^/]"
            kind = "regexp"
        elif ch in _ESCAPED:
            source += "\\" + ch
        elif ch == "\\":
            if pos < len(chars):
                source += "\\" + chars[pos]
                pos += 1
                kind = "regexp"
            else:
                source += "\\"
        elif ch in "[]":
            source += ch
            kind = "regexp"
        else:
            source += ch
        index += 1
    if kind == "regexp":
        source += "$"
    return kind, source


def _pattern(text: str, exclusion: bool) -> Pattern:
    kind, source = _compile(text)
    regex = None
    if kind == "regexp":
        try:
            regex = GoRegex(source)
        except GoSyntaxError:
            kind = "invalid"
        except ValueError as e:
            raise UnsupportedPattern(f"pattern {text!r}: {e}") from e
    return Pattern(text, exclusion, len(text.split("/")), kind, regex)


class Matcher:
    """patternmatcher.Matches over one pattern list, as kaniko calls it for every path."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns: list[Pattern] = []
        # False when patternmatcher.New fails: kaniko then keeps every file.
        self.valid = True
        for raw in patterns:
            text = go_trim_space(raw)
            if not text:
                continue
            text = go_clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    self.valid = False
                    break
                text = text[1:]
            if glob_rejects(text):
                self.valid = False
                break
            self.patterns.append(_pattern(text, exclusion))
        if not self.valid:
            self.patterns = []

    def excludes(self, path: str) -> bool:
        """Whether kaniko leaves `path` (relative to the context) out of a COPY."""
        if not self.patterns:
            return False
        path = go_clean(path)
        if path == ".":
            return False
        parent = go_clean(path[: path.rfind("/") + 1])  # filepath.Dir
        parent_parts = parent.split("/")
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            if pattern.kind == "invalid":
                return False
            hit = pattern.match(path)
            if not hit and parent != "." and pattern.depth <= len(parent_parts):
                hit = pattern.match("/".join(parent_parts[: pattern.depth]))
            if hit:
                matched = not pattern.exclusion
        return matched

    def _covers(self, pattern: Pattern, directory: str, parts: list[str]) -> bool:
        """Whether `pattern` matches every path below `directory`."""
        if pattern.depth <= len(parts) and pattern.match("/".join(parts[: pattern.depth])):
            return True
        if pattern.kind == "prefix":
            return (directory + "/").startswith(pattern.text[:-2])
        return pattern.kind == "suffix" and pattern.text == "**"

    def _could_fire(self, pattern: Pattern, directory: str, parts: list[str]) -> bool:
        """False only when `pattern` matches no path below `directory`."""
        if pattern.depth <= len(parts) and pattern.match("/".join(parts[: pattern.depth])):
            return True
        return pattern.could_match_below(directory)

    def excludes_all_below(self, directory: str) -> bool:
        """True only if every path below `directory` is excluded, whatever it is called.

        Some inclusion pattern must match every such path, and no exception after it may
        match any of them. A False is not a promise that something below is kept."""
        directory = go_clean(directory)
        if directory in (".", "..") or directory.startswith(("../", "/")) or not self.valid:
            return False
        if any(p.kind == "invalid" for p in self.patterns):
            return False
        parts = directory.split("/")
        for index, pattern in enumerate(self.patterns):
            if pattern.exclusion or not self._covers(pattern, directory, parts):
                continue
            later = self.patterns[index + 1 :]
            if not any(p.exclusion and self._could_fire(p, directory, parts) for p in later):
                return True
        return False
