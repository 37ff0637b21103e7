"""Reading what the executor reported through its digest files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import BuildFailed, InputError
from ..spec.references import Reference, parse_reference
from ..utils.fs import NotRegular, read_regular_beneath

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class PushResult:
    digest: str
    image_names: tuple[str, ...]

    @property
    def image(self) -> str:
        return self.image_names[0] if self.image_names else ""


def _read_chroot_file(root: Path, inside: PurePosixPath, what: str) -> str | None:
    """A small file kaniko wrote in the chroot; None when it is missing. Never follows a link:
    a RUN step could have replaced it with one to a runner file."""
    try:
        data = read_regular_beneath(root, str(inside).lstrip("/"), limit=64 * 1024)
    except FileNotFoundError:
        return None
    except NotRegular as e:
        raise BuildFailed(
            f"kaniko's {what} was replaced by a link or special file during the build; "
            "refusing to read it"
        ) from e
    except OSError as e:
        raise BuildFailed(f"cannot read kaniko's {what}: {e.strerror}") from e
    return data.decode("utf-8", errors="replace")


def read_digest(root: Path, digest_file: PurePosixPath) -> str | None:
    """The image manifest digest kaniko wrote into the chroot at `root` (it writes it whether
    or not it pushes, when it has a destination); None when it wrote none."""
    text = _read_chroot_file(root, digest_file, "digest file")
    if text is None:
        return None
    digest = text.strip()
    if not _DIGEST.match(digest):
        raise BuildFailed("kaniko's digest file does not hold a sha256 digest")
    return digest


def read_result(
    root: Path,
    digest_file: PurePosixPath,
    names_file: PurePosixPath,
    destinations: tuple[Reference, ...],
) -> PushResult:
    """The digest and image names kaniko wrote into the chroot at `root`.

    Their content is only used when it has the expected shape: the digest a sha256 digest,
    each name one of the destinations with that digest. Nothing of it is echoed otherwise.
    """
    digest = read_digest(root, digest_file)
    if digest is None:
        raise BuildFailed("kaniko finished but wrote no digest file")
    wanted = {(r.registry, r.repository) for r in destinations}
    names: list[str] = []
    for line in (_read_chroot_file(root, names_file, "image name file") or "").splitlines():
        name, at, found = line.strip().rpartition("@")
        if not at or found != digest:
            continue
        try:
            ref = parse_reference("image", name)
        except InputError:
            continue
        if (ref.registry, ref.repository) in wanted and not ref.digest:
            names.append(line.strip())
    return PushResult(digest=digest, image_names=tuple(names))
