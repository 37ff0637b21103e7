"""The job's user and what mode bits let it do.

The action runs as root, usually re-run through sudo by the job's user (SUDO_UID and
SUDO_GID name it). Root writes on that user's behalf only where the user could write
itself: the runner's file-command files (workflow/commands.py) and outputs outside the
workspace and RUNNER_TEMP (spec/paths.py). Only mode bits count, as the kernel checks them
for a process of that user (owner class, else group class, else others): no ACLs, no
capabilities.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass

# Permission bits of the "others" class; shifted by 3 for the group, 6 for the owner.
WRITE = 0o2
SEARCH = 0o1


@dataclass(frozen=True)
class JobUser:
    """A user that is not root: its uid, primary gid and every group it is in."""

    uid: int
    gid: int
    groups: frozenset[int]

    @property
    def owner(self) -> tuple[int, int]:
        """(uid, gid) for what root makes for this user."""
        return self.uid, self.gid

    def may(self, st: os.stat_result, bits: int) -> bool:
        """Whether the mode of `st` grants this user all of `bits` (WRITE, SEARCH, both)."""
        mode = stat.S_IMODE(st.st_mode)
        if st.st_uid == self.uid:
            shift = 6
        elif st.st_gid in self.groups:
            shift = 3
        else:
            shift = 0
        return (mode >> shift) & bits == bits

    def may_replace(self, parent: os.stat_result, entry: os.stat_result) -> bool:
        """Whether this user may rename over, or remove, `entry` in the directory `parent`
        by the sticky-bit rule (write and search on `parent` are checked apart)."""
        if not parent.st_mode & stat.S_ISVTX:
            return True
        return self.uid in (entry.st_uid, parent.st_uid)


def groups_of(uid: int, gid: int) -> frozenset[int]:
    """The groups of user `uid` as /etc/group lists them, with `gid` (just `gid` for a uid
    without an account)."""
    import pwd

    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return frozenset({gid})
    return frozenset(os.getgrouplist(entry.pw_name, gid)) | {gid}


def job_user(env: Mapping[str, str]) -> JobUser | None:
    """The user root acts for: this process's user when it is not root; the user sudo was
    called by (SUDO_UID, SUDO_GID) for the re-run. None for a job run as root, which may
    write wherever root may (in a job container root writes for a runner that runs as
    another user outside it)."""
    uid = os.geteuid()
    if uid != 0:
        gid = os.getegid()
        return JobUser(uid, gid, frozenset(os.getgroups()) | {gid})
    sudo_uid, sudo_gid = env.get("SUDO_UID", ""), env.get("SUDO_GID", "")
    if not sudo_uid.isdigit() or int(sudo_uid) == 0:
        return None
    uid = int(sudo_uid)
    if sudo_gid.isdigit():
        gid = int(sudo_gid)
    else:
        import pwd

        try:
            gid = pwd.getpwuid(uid).pw_gid
        except KeyError:
            gid = uid
    return JobUser(uid, gid, groups_of(uid, gid))
