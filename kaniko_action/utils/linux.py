"""The few Linux facilities the standard library lacks: libc calls through ctypes (prctl,
umount2), and fields of /proc/self/status.

Imported before the action becomes root (sandbox/privileges.py), so it loads nothing it does
not use: ctypes only when a call is made.
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ctypes

PR_SET_PDEATHSIG = 1
MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8


_LIBC: list[ctypes.CDLL] = []


def libc() -> ctypes.CDLL:
    """The C library, loaded once (ctypes costs milliseconds to import: only when needed)."""
    if not _LIBC:
        import ctypes

        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def parent_death_signal(sig: int) -> Callable[[], None]:
    """A function that makes the calling process receive `sig` when its parent dies. The
    library is loaded now, so the function is safe to call between fork and exec."""
    lib = libc()

    def arm() -> None:
        lib.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return arm


def detach_mount(path: str) -> int:
    """umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW); 0 on success."""
    return int(libc().umount2(path.encode(), MNT_DETACH | UMOUNT_NOFOLLOW))


def status_field(name: str, text: str | None = None) -> str | None:
    """A field of /proc/self/status (or of `text`, its content), e.g. `CapEff`; None when
    absent or unreadable."""
    if text is None:
        try:
            with open("/proc/self/status", encoding="utf-8") as f:
                text = f.read()
        except OSError:
            return None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key == name:
            return value.strip()
    return None
