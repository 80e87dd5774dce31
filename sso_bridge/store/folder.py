"""The bridge's private state folder: where the SQLite store lives unless ``store.url`` says.

Chosen in this order (``store.state_directory`` overrides all of them):

1. ``$STATE_DIRECTORY``: systemd creates it, owned by the service's user, for a unit with
   ``StateDirectory=sso-bridge`` (the first entry if it lists several);
2. ``/var/lib/sso-bridge`` when it exists and this user may write it (the container image);
3. ``$XDG_STATE_HOME/sso-bridge``, by default ``~/.local/state/sso-bridge`` (a developer's
   machine).

A folder is created with mode 0700. One that another user owns, or that others may write, is
refused: whoever can write there can replace the replay cache's file (and replay an assertion)
or the account memory (and skip the disabled check). So is one its group may write, unless that
group is the owner's private group with no other member (a umask of 002 makes such folders;
Debian's OpenSSH accepts them on the same terms).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Mapping
from pathlib import Path

from sso_bridge.errors import StoreUnavailable

SYSTEM_FOLDER = Path("/var/lib/sso-bridge")
FILE_NAME = "state.sqlite3"


def default_folder(environ: Mapping[str, str] | None = None,
                   system_folder: Path = SYSTEM_FOLDER) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get("STATE_DIRECTORY"):
        return Path(environ["STATE_DIRECTORY"].split(":")[0])
    if system_folder.is_dir() and os.access(system_folder, os.W_OK | os.X_OK):
        return system_folder
    xdg = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "sso-bridge"


def private_folder(folder: Path) -> Path:
    """``folder``, created 0700 if missing; StoreUnavailable if others could write to it."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError as exc:
        raise StoreUnavailable(f"cannot create the state folder {folder}: "
                               f"{exc.strerror or exc}") from exc
    if info.st_uid != os.geteuid():
        raise StoreUnavailable(f"the state folder {folder} belongs to uid {info.st_uid}, not to "
                               f"this process's user (uid {os.geteuid()}); give the bridge a "
                               "folder of its own (store.state_directory)")
    others = stat.S_IWOTH | (0 if _private_group(info.st_gid, info.st_uid) else stat.S_IWGRP)
    if info.st_mode & others:
        raise StoreUnavailable(f"the state folder {folder} can be written by other users (mode "
                               f"{stat.S_IMODE(info.st_mode):04o}); make it private: "
                               f"chmod 700 {folder}")
    return folder


def _private_group(gid: int, uid: int) -> bool:
    """Whether ``gid`` is the user's own group (same name, no other member)."""
    try:
        group, user = grp.getgrgid(gid), pwd.getpwuid(uid)
    except KeyError:
        return False
    return (group.gr_name == user.pw_name and user.pw_gid == gid
            and set(group.gr_mem) <= {user.pw_name})
