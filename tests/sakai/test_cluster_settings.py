"""The cluster and storm settings are checked at start-up, each problem naming its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sso_bridge import errors
from sso_bridge.settings import load_settings
from tests.samlfactory.idp import TestIdp
from tests.support import write_config


def problems(tmp_path: Path, sakai: dict[str, Any], server_id: str = "") -> str:
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    path, env = write_config(tmp_path, base_url="https://lms.example.edu/sso",
                             sakai_url="https://lms.example.edu", server_id=server_id,
                             idp={"metadata_file": "idp.xml"}, extra={"sakai": sakai})
    with pytest.raises(errors.ConfigError) as caught:
        load_settings(path, env)
    return "\n".join(caught.value.problems)


def test_a_node_that_is_not_a_url_is_named(tmp_path: Path) -> None:
    assert "'sakai.nodes[1]': 'node2' is not an absolute http(s) URL" in problems(
        tmp_path, {"nodes": ["https://node1.lms.internal", "node2"]})


def test_a_configured_serverid_with_a_node_list_is_refused(tmp_path: Path) -> None:
    assert "'sakai.server_id': leave it empty with 'sakai.nodes'" in problems(
        tmp_path, {"nodes": ["https://node1.lms.internal"]}, server_id="node1")


def test_a_deadline_longer_than_the_worker_timeout_is_refused(tmp_path: Path) -> None:
    assert "'sakai.login_deadline_seconds': must be below 'server.timeout_seconds' (30)" in \
        problems(tmp_path, {"login_deadline_seconds": 45.0})


@pytest.mark.parametrize("key", ["login_deadline_seconds", "max_concurrent_calls",
                                 "readiness_cache_seconds"])
def test_negative_storm_settings_are_refused(tmp_path: Path, key: str) -> None:
    assert f"'sakai.{key}': must be 0 (off) or positive" in problems(tmp_path, {key: -1})
