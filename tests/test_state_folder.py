"""Issue 10, hole 7: the SQLite store lives in a private state folder, not in /tmp, and its
expiry sweep reads an index instead of the whole table."""

from __future__ import annotations

import grp
import os
import pwd
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from sso_bridge.cli import main
from sso_bridge.errors import StoreUnavailable
from sso_bridge.settings import StoreSection
from sso_bridge.store import folder
from sso_bridge.store.sqlite import PURGE, SqliteStore
from tests.samlfactory.idp import TestIdp
from tests.support import write_config


def _config(tmp_path: Path, **store: str) -> tuple[Path, dict[str, str]]:
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    return write_config(tmp_path / "conf", base_url="https://lms.example.edu/sso",
                        sakai_url="https://lms.example.edu",
                        idp={"metadata_file": "../idp.xml"}, extra={"store": {"url": "", **store}})


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_default_is_no_longer_in_world_writable_tmp() -> None:
    assert StoreSection().url == ""  # was sqlite:///tmp/sso-bridge-state.sqlite3


def test_check_config_creates_the_private_state_folder_of_systemd(tmp_path: Path) -> None:
    path, env = _config(tmp_path)
    state = tmp_path / "systemd" / "sso-bridge"
    result = CliRunner().invoke(main, ["check-config", "--offline", "--config", str(path)],
                                env={**env, "STATE_DIRECTORY": str(state)})
    assert result.exit_code == 0, result.output
    assert _mode(state) == 0o700
    assert _mode(state / "state.sqlite3") == 0o600


def test_state_folder_falls_back_to_the_users_state_home(tmp_path: Path) -> None:
    environ = {"XDG_STATE_HOME": str(tmp_path / "xdg")}
    missing = tmp_path / "no-var-lib"
    assert folder.default_folder(environ, missing) == tmp_path / "xdg" / "sso-bridge"
    system = tmp_path / "var-lib"
    system.mkdir()
    assert folder.default_folder(environ, system) == system  # writable: the system folder
    assert folder.default_folder({"STATE_DIRECTORY": "/a:/b"}, system) == Path("/a")


def _shared_group() -> int:
    """A group other users belong to (``users``), for a group-writable folder."""
    try:
        return grp.getgrnam("users").gr_gid
    except KeyError:  # pragma: no cover - Debian has it
        pytest.skip("no 'users' group")


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o770, 0o702])
def test_state_folder_others_can_write_to_is_refused_at_start_up(tmp_path: Path,
                                                                mode: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    try:
        os.chown(shared, -1, _shared_group())
    except PermissionError:  # pragma: no cover - not root and not in the group
        pytest.skip("cannot give the folder a shared group")
    path, env = _config(tmp_path, state_directory=str(shared))
    result = CliRunner().invoke(main, ["check-config", "--offline", "--config", str(path)], env=env)
    assert result.exit_code != 0
    assert f"the state folder {shared} can be written by other users" in result.output
    assert f"chmod 700 {shared}" in result.output
    assert not (shared / "state.sqlite3").exists()


def test_a_group_writable_folder_of_the_users_private_group_is_accepted(tmp_path: Path) -> None:
    """What a umask of 002 makes: group-writable, but the group is the user's alone."""
    own = tmp_path / "umask002"
    own.mkdir()
    own.chmod(0o775)
    group = grp.getgrgid(own.stat().st_gid)
    if group.gr_name != pwd.getpwuid(os.geteuid()).pw_name or group.gr_mem:
        pytest.skip("this user has no private group")  # pragma: no cover
    SqliteStore(str(own / "state.sqlite3")).put("k", "v", 60)


def test_an_explicit_sqlite_url_in_a_shared_folder_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "tmp-like"
    shared.mkdir()
    shared.chmod(0o1777)
    with pytest.raises(StoreUnavailable, match="can be written by other users"):
        SqliteStore(str(shared / "state.sqlite3"))


def test_expiry_sweep_reads_an_index_not_the_whole_table(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    for i in range(50):
        store.put(f"k{i}", "v", 60)
    db = sqlite3.connect(store.path)
    plan = " ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + PURGE, (0.0,)))
    assert "USING COVERING INDEX state_expires (expires<?)" in plan, plan
    assert "SCAN" not in plan
    lookup = " ".join(row[-1] for row in db.execute(
        "EXPLAIN QUERY PLAN SELECT value FROM state WHERE key = ? AND expires > ?", ("k", 0)))
    assert "SEARCH state USING PRIMARY KEY (key=?)" in lookup, lookup


def test_an_existing_store_file_gets_the_index(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                "expires REAL NOT NULL) WITHOUT ROWID")
    old.close()
    os.chmod(path, 0o600)
    SqliteStore(str(path))
    indexes = sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    assert ("state_expires",) in indexes
