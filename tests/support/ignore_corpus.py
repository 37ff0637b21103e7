"""Tricky .dockerignore files and the context they are tried on.

Shared by the differential test against the real executors (tests/test_e2e_ignore_diff.py)
and the property tests of the matcher (tests/test_dockerignore.py).
"""

from __future__ import annotations

import io
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

DOCKERFILE = "FROM scratch\nCOPY . /ctx\n"

# path -> content (str), or (content, mode). Directories come from the paths.
FILES: dict[str, str | tuple[str, int]] = {
    "app.py": "print('app')\n",
    "README.md": "# readme\n",
    ".env": "SECRET=1\n",
    ".hidden/secret": "hidden\n",
    ".git/HEAD": "ref: refs/heads/main\n",
    ".git/objects/ab/cdef": "blob\n",
    "src/main.py": "main\n",
    "src/util/helpers.py": "helpers\n",
    "src/__pycache__/main.cpython-311.pyc": "bytecode\n",
    "src/util/__pycache__/helpers.cpython-311.pyc": "bytecode\n",
    "src/a/b/__pycache__/deep.pyc": "bytecode\n",
    "node_modules/pkg/index.js": "module.exports = 1\n",
    "node_modules/pkg/package.json": "{}\n",
    "node_modules/keep.txt": "keep me\n",
    "web/app.js": "app\n",
    "web/node_modules/lib/x.js": "lib\n",
    "build/out.bin": "binary\n",
    "build/keep/important.txt": "important\n",
    "dist/a.js": "a\n",
    "dist/b.css": "b\n",
    "docs/my file.txt": "spaces\n",
    "docs/\u00fcn\u00efc\u00f8d\u00e9.md": "unicode\n",
    "docs/trailing space ": "trailing space in the name\n",
    "docs/new\nline.txt": "newline in the name\n",
    "logs/a.log": "a\n",
    "logs/sub/b.log": "b\n",
    "x.log": "x\n",
    "deep/a/b/c/d/e/f/g/h/leaf.txt": "leaf\n",
    "deep/a/b/c/d/other.txt": "other\n",
    "exec.sh": ("#!/bin/sh\necho hi\n", 0o755),
    "readonly.txt": ("read only\n", 0o444),
    "private/key": ("key\n", 0o600),
    "[brackets].txt": "brackets\n",
    "star*.txt": "star\n",
    "#hash.txt": "hash\n",
    "!bang.txt": "bang\n",
    "a|b.txt": "pipe\n",
    "secret.txt": "do not ship\n",
    "1st.txt": "digit first\n",
    "abc.log": "three letters\n",
    "lonely.log": "excluded, yet a wildcard source\n",
}
EMPTY_DIRS = ("tmp", "build/empty")
# link -> target, as written.
SYMLINKS = {
    "node_modules/.bin/tool": "../pkg/index.js",
    "link-to-src": "src",
    "link-to-build": "build",
    "abs-link": "/etc/passwd",
    "broken": "does/not/exist",
    "docs/up": "../app.py",
}
TAR_MEMBERS = {"unpacked/one.txt": "one\n", "unpacked/two.txt": "two\n"}


def tar_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in TAR_MEMBERS.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 946684800
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass(frozen=True)
class Case:
    name: str
    ignore: bytes
    # COPY . /ctx unless given; extra instructions come after it.
    extra: str = ""
    # The Dockerfile outside the context (docker/Dockerfile) with this <Dockerfile>.dockerignore.
    outside_ignore: bytes | None = None
    files: dict[str, str] = field(default_factory=dict)
    # The staging is expected to leave something out (checked in the differential test).
    prunes: bool = True
    # The staging is expected to give up and stage everything (and say why).
    whole: bool = False
    # kaniko refuses the build (from the whole context too).
    fails: bool = False

    @property
    def dockerfile(self) -> str:
        return DOCKERFILE + self.extra


CASES = [
    Case("empty", b"", prunes=False),
    Case("dir-name", b"node_modules\n"),
    Case("double-star-dir", b"**/node_modules\n"),
    Case("exception-under-excluded-dir", b"node_modules\n!node_modules/keep.txt\n"),
    Case("exclude-all-but-src", b"*\n!src\n"),
    Case("all-with-exception-deep", b"*\n!deep/a/b/c/d/e\n"),
    Case("double-star-extension", b"**/*.pyc\n"),
    Case("double-star-pycache", b"**/__pycache__\n"),
    Case("leading-slash", b"/app.py\n/node_modules/\n"),
    Case("dotdot-cleaning", b"src/../app.py\n./README.md\nlogs/./sub/../a.log\n../x.log\n"),
    Case("comments", b"# a comment\n  # not a comment\n#app.py\n\\#hash.txt\n"),
    Case("trailing-spaces", b"app.py   \n\t README.md\t\n!  app.py  \n"),
    Case("dotfiles", b".*\n"),
    Case("git-and-env", b".git\n.env\n.hidden/\n"),
    Case("space-in-name", b"docs/my file.txt\ndocs/trailing space \n"),
    Case("unicode-name", "docs/\u00fcn\u00efc\u00f8d\u00e9.md\n".encode()),
    Case("newline-in-name", b"docs/new?line.txt\n"),
    Case("deep-tree", b"deep/a/b/**/leaf.txt\ndeep/a/b/c/d\n"),
    Case("deep-prefix", b"deep/**\n!deep/a/b/c/d/other.txt\n"),
    Case("logs-with-exception", b"*.log\n**/*.log\n!logs/sub/b.log\n"),
    Case("prefix-with-exception-dir", b"logs/**\n!logs/sub\n"),
    Case("symlink-excluded", b"link-to-src\nnode_modules/.bin\n"),
    Case("symlink-target-excluded", b"src\n"),
    Case("ignore-files-themselves", b"Dockerfile\n.dockerignore\n", prunes=False),
    Case("everything", b"*\n"),
    Case("bare-bang-disables-all", b"node_modules\n!\n", prunes=False),
    Case("bad-glob-disables-all", b"node_modules\n[\n", prunes=False),
    Case("character-class", b"src/[a-m]*.py\n[[]brackets].txt\n"),
    Case("double-star-only", b"**\n!README.md\n"),
    Case("dist-js", b"dist/*.js\n"),
    Case("question-mark", b"?ode_modules\n???.log\n"),
    Case("reinclude-deep-file", b"build\n!build/keep/important.txt\n"),
    Case("nested-star", b"*/node_modules\n*/__pycache__\n"),
    Case("escapes", b"\\!bang.txt\nstar\\*.txt\n"),
    Case("modes", b"exec.sh\nreadonly.txt\nprivate\n"),
    Case("pipe-and-braces", b"*.js|*.css\nx{2}.log\na|b.txt\n"),
    Case("bom-and-crlf", b"\xef\xbb\xbfnode_modules\r\napp.py\r\n\r\n"),
    Case("regex-escapes", b"\\d*.txt\n\\w\\w\\w.log\n"),
    Case("unsupported-unicode-class", b"node_modules\n\\pL*.md\n", prunes=False, whole=True),
    Case("invalid-regex-keeps-paths", b"node_modules\nsrc/[z-a]*\n"),
    Case(
        "dockerfile-outside-context",
        b"app.py\n",
        outside_ignore=b"node_modules\n!node_modules/pkg\n",
    ),
    Case(
        "add-excluded-tar",
        b"secret.tar\n*.tar\nnode_modules\n",
        extra="ADD secret.tar /added/\n",
    ),
    Case(
        "copy-through-link-into-excluded",
        b"build\n",
        extra="COPY link-to-build/out.bin /through/\n",
    ),
    Case(
        "explicit-excluded-sources",
        b"secret.txt\nnode_modules\n",
        extra="COPY secret.txt node_modules/pkg/index.js /explicit/\nCOPY *.txt /wild/\n",
    ),
    Case(
        "variable-source-excluded-file",
        b"secret.txt\nnode_modules\n",
        extra="ARG SOURCE=secret.txt\nCOPY ${SOURCE} /variable/\n",
    ),
    # `lo*` resolves to the directory logs and the excluded lonely.log: two sources for a
    # destination that is not a directory, which kaniko refuses, as long as the excluded
    # file is there to be listed.
    Case("wildcard-counts-excluded-files", b"lonely.log\n", extra="COPY lo* /one\n", fails=True),
]


def write_context(directory: Path, case: Case) -> None:
    """The corpus context in `directory`, with the case's ignore file and Dockerfile."""
    for rel, spec in FILES.items():
        text, mode = spec if isinstance(spec, tuple) else (spec, 0o644)
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)
    for rel in EMPTY_DIRS:
        (directory / rel).mkdir(parents=True, exist_ok=True)
    for rel, target in SYMLINKS.items():
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, directory / rel)
    (directory / "secret.tar").write_bytes(tar_bytes())
    for rel, text in case.files.items():
        (directory / rel).write_text(text, encoding="utf-8")
    (directory / ".dockerignore").write_bytes(case.ignore)
    (directory / "Dockerfile").write_text(case.dockerfile, encoding="utf-8")
    # Directory times are part of what the maintained executor copies.
    for dirpath, _dirs, _files in os.walk(directory):
        os.utime(dirpath, ns=(946684800 * 10**9, 946684800 * 10**9))


def all_paths() -> list[str]:
    """Every path of the corpus context, relative to it."""
    paths = (
        set(FILES) | set(EMPTY_DIRS) | set(SYMLINKS) | {"secret.tar", "Dockerfile", ".dockerignore"}
    )
    for rel in list(paths):
        parts = rel.split("/")
        paths.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return sorted(paths)
