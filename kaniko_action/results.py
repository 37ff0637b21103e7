"""Reading what the executor reported through its digest files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildFailed

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class BuildResult:
    digest: str
    image_names: tuple[str, ...]

    @property
    def image(self) -> str:
        return self.image_names[0] if self.image_names else ""


def read_result(digest_file: Path, names_file: Path) -> BuildResult:
    try:
        digest = digest_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError as e:
        raise BuildFailed("kaniko finished but wrote no digest file") from e
    if not _DIGEST.match(digest):
        raise BuildFailed(f"kaniko wrote an unexpected digest: {digest!r}")
    try:
        names = tuple(
            line.strip()
            for line in names_file.read_text(encoding="utf-8").splitlines()
            if line.strip()
        )
    except FileNotFoundError:
        names = ()
    return BuildResult(digest=digest, image_names=names)
