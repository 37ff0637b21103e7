"""The RUN environments a runner can give, and how a test makes this machine (root with every
capability) give each: the action run under a command that takes capabilities away or
refuses namespaces.

- NAMESPACES: as it is (a VM runner, a GitHub-hosted runner);
- USER_NAMESPACE: without CAP_SYS_ADMIN (`capsh --drop=cap_sys_admin`), as a pod that may
  make user namespaces (seccomp Unconfined);
- CHROOT: without CAP_SYS_ADMIN or CAP_SETFCAP, so no user namespace with the identity map
  either (a pod with only the default capabilities and its seccomp profile);
- REFUSED: every capability, unshare(2) refused by a seccomp filter (a runtime's default
  profile): the plain chroot where a RUN step may still mount.
"""

from __future__ import annotations

from .seccomp import wrapper as seccomp_wrapper

NAMESPACES = "namespaces"
USER_NAMESPACE = "user-namespace"
CHROOT = "chroot"
REFUSED = "refused"
MODES = (NAMESPACES, USER_NAMESPACE, CHROOT)


def _capsh(drop: str) -> list[str]:
    return ["capsh", f"--drop={drop}", "--", "-c", 'exec "$0" "$@"']


def wrapper(mode: str) -> list[str]:
    """The command prefix that makes the action see a runner of `mode`."""
    return {
        NAMESPACES: [],
        USER_NAMESPACE: _capsh("cap_sys_admin"),
        CHROOT: _capsh("cap_sys_admin,cap_setfcap"),
        REFUSED: seccomp_wrapper(),
    }[mode]


def namespaced(mode: str) -> bool:
    return mode in (NAMESPACES, USER_NAMESPACE)


def log_line_start(mode: str) -> str:
    """How the line preflight shows for `mode` begins."""
    return {
        NAMESPACES: "RUN steps run as in a container: ",
        USER_NAMESPACE: "RUN steps run as in a container in a user namespace (the runner has "
        "no CAP_SYS_ADMIN)",
        CHROOT: "RUN steps run in a plain chroot without /proc: the runner has no "
        "CAP_SYS_ADMIN, nor SETFCAP",
        REFUSED: "RUN steps run in a plain chroot without /proc: namespaces were refused",
    }[mode]
