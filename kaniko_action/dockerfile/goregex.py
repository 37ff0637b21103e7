"""Go regular expressions of the kind .dockerignore patterns turn into, for Python. Pure.

moby/patternmatcher (the matcher kaniko uses) turns a pattern with wildcards into a Go regular
expression and matches paths with it. `parse` reads such an expression as Go's regexp/syntax
does with the flags regexp.Compile uses (one-line anchors, classes that match newlines, Perl
escapes), `GoRegex` matches with an equivalent Python expression, and `GoRegex.could_extend`
tells whether some string starting with a given prefix could match (what lets staging skip a
directory). Go rejects some expressions Python would take, and the other way round: parsing
follows Go and raises GoSyntaxError where Go fails. Constructs whose meaning is not reproduced
here (Unicode groups such as \\pL) raise Unsupported.

Subjects are Python strings whose characters are Go runes: the caller maps bytes that are not
UTF-8 to U+FFFD first, as Go's decoder does.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Union

    Ranges = tuple[tuple[int, int], ...]

MAX_RUNE = 0x10FFFF


class GoSyntaxError(ValueError):
    """Go's regexp.Compile rejects the expression."""


class Unsupported(ValueError):
    """Go accepts the expression, but this module does not reproduce what it means."""


class CharClass:
    """One character out of sorted, disjoint, non-adjacent inclusive ranges."""

    __slots__ = ("ranges",)

    def __init__(self, ranges: Ranges) -> None:
        self.ranges = ranges

    def contains(self, rune: int) -> bool:
        index = bisect_right(self.ranges, (rune, MAX_RUNE + 1)) - 1
        return index >= 0 and self.ranges[index][0] <= rune <= self.ranges[index][1]


class Repeat:
    __slots__ = ("least", "most", "node")

    def __init__(self, node: Node, least: int, most: int) -> None:
        self.node = node
        self.least = least
        self.most = most  # -1: no upper bound


class Group:
    __slots__ = ("nodes",)

    def __init__(self, nodes: tuple[Node, ...]) -> None:
        self.nodes = nodes


class Alternate:
    __slots__ = ("branches",)

    def __init__(self, branches: tuple[tuple[Node, ...], ...]) -> None:
        self.branches = branches


class Assertion:
    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "begin", "end", "word", "not-word"


if TYPE_CHECKING:
    Node = Union[CharClass, Repeat, Group, Alternate, Assertion]


def _clean(ranges: list[tuple[int, int]]) -> Ranges:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _negate(ranges: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    next_lo = 0
    for lo, hi in ranges:
        if lo > next_lo:
            out.append((next_lo, lo - 1))
        next_lo = hi + 1
    if next_lo <= MAX_RUNE:
        out.append((next_lo, MAX_RUNE))
    return tuple(out)


def _literal(rune: int) -> CharClass:
    return CharClass(((rune, rune),))


ANY_BUT_NEWLINE = CharClass(((0, 9), (11, MAX_RUNE)))

# Go's regexp/syntax tables: Perl classes and POSIX classes are ASCII-only.
_DIGIT = ((0x30, 0x39),)
_SPACE = ((0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20))
_WORD = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
_PERL: dict[str, tuple[Ranges, bool]] = {
    "d": (_DIGIT, False),
    "D": (_DIGIT, True),
    "s": (_SPACE, False),
    "S": (_SPACE, True),
    "w": (_WORD, False),
    "W": (_WORD, True),
}
_POSIX: dict[str, Ranges] = {
    "alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)),
    "alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "ascii": ((0x00, 0x7F),),
    "blank": ((0x09, 0x09), (0x20, 0x20)),
    "cntrl": ((0x00, 0x1F), (0x7F, 0x7F)),
    "digit": ((0x30, 0x39),),
    "graph": ((0x21, 0x7E),),
    "lower": ((0x61, 0x7A),),
    "print": ((0x20, 0x7E),),
    "punct": ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)),
    "space": ((0x09, 0x0D), (0x20, 0x20)),
    "upper": ((0x41, 0x5A),),
    "word": _WORD,
    "xdigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
}
_C_ESCAPES = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
_OCTAL = "01234567"
_HEX = "0123456789abcdefABCDEF"


_REPEAT = r"\{([0-9]+)(,([0-9]*))?\}"


def _repeat_int(digits: str) -> int | None:
    """Go's parseInt for repetition counts: no leading zeros; too many digits is too big."""
    if len(digits) >= 2 and digits[0] == "0":
        return None
    return 1001 if len(digits) > 8 else int(digits)


def _isalnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.pos = 0

    def _peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.s[index] if index < len(self.s) else ""

    def alternation(self, in_group: bool) -> tuple[Node, ...]:
        branches = [self._sequence(in_group)]
        while self._peek() == "|":
            self.pos += 1
            branches.append(self._sequence(in_group))
        if len(branches) == 1:
            return branches[0]
        return (Alternate(tuple(branches)),)

    def _repeat_bounds(self) -> tuple[int, int, int] | None:
        """Go's parseRepeat at a '{': (least, most, end) or None when '{' is a literal."""
        match = re.compile(_REPEAT).match(self.s, self.pos)
        if match is None:
            return None
        least = _repeat_int(match.group(1))
        if least is None:
            return None
        if match.group(2) is None:
            most = least
        elif match.group(3) == "":
            most = -1
        else:
            parsed = _repeat_int(match.group(3))
            if parsed is None:
                return None
            most = parsed
        return least, most, match.end()

    def _sequence(self, in_group: bool) -> tuple[Node, ...]:
        items: list[Node] = []
        last_repeat = False
        while self.pos < len(self.s):
            ch = self.s[self.pos]
            bounds: tuple[int, int, int] | None = None
            if ch == "{":
                bounds = self._repeat_bounds()
                if bounds is None:  # not a repetition: a literal '{'
                    self.pos += 1
                    items.append(_literal(ord(ch)))
                    last_repeat = False
                    continue
                least, most, _ = bounds
                if least > 1000 or most > 1000 or (most >= 0 and least > most):
                    raise GoSyntaxError("invalid repeat count")
            if ch in "*?+" or bounds is not None:
                if not items:
                    raise GoSyntaxError("missing argument to repetition operator")
                if isinstance(items[-1], Assertion):
                    raise Unsupported("repeated assertion")  # Go accepts it, Python does not
                if last_repeat:
                    raise GoSyntaxError("invalid nested repetition operator")
                if bounds is not None:
                    least, most, self.pos = bounds
                else:
                    least, most = {"*": (0, -1), "?": (0, 1), "+": (1, -1)}[ch]
                    self.pos += 1
                if self._peek() == "?":  # non-greedy: the same set of matches
                    self.pos += 1
                items[-1] = Repeat(items[-1], least, most)
                last_repeat = True
                continue
            last_repeat = False
            if ch == "(":
                if self._peek(1) == "?":
                    raise Unsupported("group flags")
                self.pos += 1
                inner = self.alternation(in_group=True)
                if self._peek() != ")":
                    raise GoSyntaxError("missing closing )")
                self.pos += 1
                items.append(Group(inner))
            elif ch == ")":
                if in_group:
                    return tuple(items)
                raise GoSyntaxError("unexpected )")
            elif ch == "|":
                return tuple(items)
            elif ch == "[":
                items.append(self._class())
            elif ch == ".":
                self.pos += 1
                items.append(ANY_BUT_NEWLINE)
            elif ch == "^":
                self.pos += 1
                items.append(Assertion("begin"))
            elif ch == "$":
                self.pos += 1
                items.append(Assertion("end"))
            elif ch == "\\":
                items.extend(self._top_escape())
            else:
                self.pos += 1
                items.append(_literal(ord(ch)))
        return tuple(items)

    def _top_escape(self) -> list[Node]:
        nxt = self._peek(1)
        simple = {"A": "begin", "z": "end", "b": "word", "B": "not-word"}
        if nxt in simple:
            self.pos += 2
            return [Assertion(simple[nxt])]
        if nxt == "C":
            raise GoSyntaxError("invalid escape sequence \\C")
        if nxt == "Q":
            end = self.s.find("\\E", self.pos + 2)
            text = self.s[self.pos + 2 :] if end < 0 else self.s[self.pos + 2 : end]
            self.pos = len(self.s) if end < 0 else end + 2
            return [_literal(ord(c)) for c in text]
        if nxt in ("p", "P"):
            raise Unsupported("Unicode class")
        if nxt and nxt in _PERL:
            ranges, negated = _PERL[nxt]
            self.pos += 2
            return [CharClass(_negate(ranges) if negated else ranges)]
        return [_literal(self._escape())]

    def _escape(self) -> int:
        """Go's parseEscape at a backslash: the rune it stands for."""
        start = self.pos
        self.pos += 1
        if self.pos >= len(self.s):
            raise GoSyntaxError("trailing backslash at end of expression")
        ch = self.s[self.pos]
        self.pos += 1
        if ch.isascii() and not _isalnum(ch):
            return ord(ch)
        if ch in "1234567" and self._peek() not in tuple(_OCTAL):
            raise GoSyntaxError(f"invalid escape sequence {self.s[start : self.pos]}")
        if ch in _OCTAL:
            value = int(ch)
            for _ in range(2):
                nxt = self._peek()
                if not nxt or nxt not in _OCTAL:
                    break
                value = value * 8 + int(nxt)
                self.pos += 1
            return value
        if ch == "x":
            return self._hex(start)
        if ch in _C_ESCAPES:
            return _C_ESCAPES[ch]
        raise GoSyntaxError(f"invalid escape sequence {self.s[start : self.pos]}")

    def _hex(self, start: int) -> int:
        bad = GoSyntaxError(f"invalid escape sequence {self.s[start : self.pos + 1]}")
        first = self._peek()
        if not first:
            raise bad
        self.pos += 1
        if first == "{":
            value, digits = 0, 0
            while True:
                nxt = self._peek()
                if not nxt:
                    raise bad
                self.pos += 1
                if nxt == "}":
                    break
                if nxt not in _HEX:
                    raise bad
                value = value * 16 + int(nxt, 16)
                if value > MAX_RUNE:
                    raise bad
                digits += 1
            if digits == 0:
                raise bad
            return value
        second = self._peek()
        if not second:
            raise bad
        self.pos += 1
        if first not in _HEX or second not in _HEX:
            raise bad
        return int(first + second, 16)

    def _class_char(self) -> int:
        if self.pos >= len(self.s):
            raise GoSyntaxError("missing closing ]")
        if self.s[self.pos] == "\\":
            return self._escape()
        self.pos += 1
        return ord(self.s[self.pos - 1])

    def _class(self) -> CharClass:
        """Go's parseClass with the Perl flags, at a '['."""
        self.pos += 1
        negated = False
        if self._peek() == "^":
            negated = True
            self.pos += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while self.pos >= len(self.s) or self.s[self.pos] != "]" or first:
            first = False
            rest = self.s[self.pos :]
            if len(rest) > 2 and rest.startswith("[:"):
                end = rest.find(":]", 2)
                if end >= 0:
                    name = rest[2:end]
                    posix_negated = name.startswith("^")
                    group = _POSIX.get(name[1:] if posix_negated else name)
                    if group is None:
                        raise GoSyntaxError(f"invalid character class range [:{name}:]")
                    ranges.extend(_negate(group) if posix_negated else group)
                    self.pos += end + 2
                    continue
            if rest[:2] in ("\\p", "\\P"):
                raise Unsupported("Unicode class")
            if len(rest) >= 2 and rest[0] == "\\" and rest[1] in _PERL:
                group, group_negated = _PERL[rest[1]]
                ranges.extend(_negate(group) if group_negated else group)
                self.pos += 2
                continue
            lo = self._class_char()
            hi = lo
            if self._peek() == "-" and self._peek(1) not in ("", "]"):
                self.pos += 1
                hi = self._class_char()
                if hi < lo:
                    raise GoSyntaxError("invalid character class range")
            ranges.append((lo, hi))
        self.pos += 1
        cleaned = _clean(ranges)
        return CharClass(_negate(cleaned) if negated else cleaned)


def parse(text: str) -> tuple[Node, ...]:
    """The expression's nodes, read as Go reads it; raises GoSyntaxError or Unsupported."""
    parser = _Parser(text)
    nodes = parser.alternation(in_group=False)
    if parser.pos < len(text):  # a ')' with no '(' before it
        raise GoSyntaxError("unexpected )")
    return nodes


def _class_source(cls: CharClass) -> str:
    if not cls.ranges:
        return "(?!)"
    if len(cls.ranges) == 1 and cls.ranges[0][0] == cls.ranges[0][1]:
        return re.escape(chr(cls.ranges[0][0]))
    parts = [f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in cls.ranges]
    return "[" + "".join(parts) + "]"


_ASSERTIONS = {"begin": r"\A", "end": r"\Z", "word": r"\b", "not-word": r"\B"}


def _repeat_suffix(node: Repeat) -> str:
    known = {(0, -1): "*", (0, 1): "?", (1, -1): "+"}
    if (node.least, node.most) in known:
        return known[(node.least, node.most)]
    if node.most == node.least:
        return f"{{{node.least}}}"
    return f"{{{node.least},{'' if node.most < 0 else node.most}}}"


def python_source(nodes: tuple[Node, ...]) -> str:
    """A Python expression matching exactly what the Go one matches."""
    out: list[str] = []
    for node in nodes:
        if isinstance(node, CharClass):
            out.append(_class_source(node))
        elif isinstance(node, Repeat):
            out.append(f"(?:{python_source((node.node,))}){_repeat_suffix(node)}")
        elif isinstance(node, Group):
            out.append(f"(?:{python_source(node.nodes)})")
        elif isinstance(node, Alternate):
            out.append("(?:" + "|".join(python_source(b) for b in node.branches) + ")")
        else:
            out.append(_ASSERTIONS[node.kind])
    return "".join(out)


def _anchored(nodes: tuple[Node, ...]) -> bool:
    """Whether every match must start at the beginning of the subject."""
    if not nodes:
        return False
    first = nodes[0]
    if isinstance(first, Assertion):
        return first.kind == "begin"
    if isinstance(first, Group):
        return _anchored(first.nodes)
    if isinstance(first, Alternate):
        return all(_anchored(branch) for branch in first.branches)
    return False


class _Nfa:
    """A Thompson automaton over the nodes, for anchored expressions. Bounded repetition
    counts as unbounded, and word-boundary assertions always pass: it over-estimates."""

    def __init__(self, nodes: tuple[Node, ...]) -> None:
        self.moves: list[list[tuple[CharClass, int]]] = []
        self.free: list[list[tuple[str, int]]] = []  # (assertion kind or "", target)
        self.start = self._state()
        self._build(nodes, self.start)

    def _state(self) -> int:
        self.moves.append([])
        self.free.append([])
        return len(self.moves) - 1

    def _build(self, nodes: tuple[Node, ...], state: int) -> int:
        for node in nodes:
            state = self._node(node, state)
        return state

    def _node(self, node: Node, state: int) -> int:
        if isinstance(node, CharClass):
            out = self._state()
            self.moves[state].append((node, out))
            return out
        if isinstance(node, Group):
            return self._build(node.nodes, state)
        if isinstance(node, Alternate):
            out = self._state()
            for branch in node.branches:
                entry = self._state()
                self.free[state].append(("", entry))
                self.free[self._build(branch, entry)].append(("", out))
            return out
        if isinstance(node, Repeat):
            entry = self._state()
            self.free[state].append(("", entry))
            inner_end = self._node(node.node, entry)
            out = self._state()
            if node.least == 0:
                self.free[entry].append(("", out))
            if (node.least, node.most) == (0, 1):
                self.free[inner_end].append(("", out))
            else:
                self.free[inner_end].append(("", entry))
                self.free[inner_end].append(("", out))
            return out
        out = self._state()
        self.free[state].append((node.kind, out))
        return out

    def _closure(self, states: set[int], at_start: bool) -> set[int]:
        stack = list(states)
        seen = set(states)
        while stack:
            for kind, nxt in self.free[stack.pop()]:
                # Inside the prefix, "end" cannot hold; "begin" only before its first rune.
                if kind == "end" or (kind == "begin" and not at_start):
                    continue
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    def alive_after(self, prefix: str) -> bool:
        current = self._closure({self.start}, at_start=True)
        for ch in prefix:
            rune = ord(ch)
            current = self._closure(
                {nxt for s in current for cls, nxt in self.moves[s] if cls.contains(rune)},
                at_start=False,
            )
            if not current:
                return False
        return True


class GoRegex:
    """A Go regular expression (as regexp.Compile reads it), matched from Python."""

    def __init__(self, text: str) -> None:
        self.text = text
        nodes = parse(text)
        self._re = re.compile(python_source(nodes), re.ASCII)
        self._nfa = _Nfa(nodes) if _anchored(nodes) else None

    def search(self, subject: str) -> bool:
        """Go's MatchString: whether the expression matches somewhere in `subject`."""
        return self._re.search(subject) is not None

    def could_extend(self, prefix: str) -> bool:
        """False only when no string starting with `prefix` has a match (for an expression
        anchored at the start; any other could match in what follows the prefix)."""
        return self._nfa is None or self._nfa.alive_after(prefix)
