"""A ServiceProvider trusting a test-time IdP whose key is generated for each test session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sso_bridge.keys import load_credentials
from sso_bridge.saml.metadata import load_idp_metadata
from sso_bridge.saml.sp import LoginResult, ServiceProvider, build_saml_settings
from sso_bridge.services import Services
from sso_bridge.settings import Settings, load_settings
from sso_bridge.store.sqlite import SqliteStore
from tests.samlfactory.idp import TestIdp, encode
from tests.support import write_config

BASE = "https://lms.example.edu/sso"
ACS = BASE + "/saml/acs"
SP_ENTITY = BASE + "/saml/metadata"
SAKAI = "https://lms.example.edu"


@pytest.fixture(scope="session")
def test_idp() -> TestIdp:
    return TestIdp()


@dataclass
class Bridge:
    idp: TestIdp
    settings: Settings
    sp: ServiceProvider
    store: SqliteStore
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each browser's pending-login cookies: relay token → signed state."""

    def start(self, target: str = SAKAI + "/portal", browser: str = "browser-1") -> Any:
        start = self.sp.begin_login(target)
        self.cookies.setdefault(browser, {})[start.relay_token] = start.state
        return start

    def response(self, in_response_to: str | None, **kwargs: Any) -> str:
        """A genuinely signed response (both signatures) for this bridge."""
        sign = {k: kwargs.pop(k) for k in ("sign_response", "sign_assertion", "algorithm")
                if k in kwargs}
        return self.idp.signed_response(acs_url=ACS, sp_entity_id=SP_ENTITY,
                                        in_response_to=in_response_to, **kwargs, **sign)

    def post(self, xml: str, relay_state: str | None, browser: str | None = "browser-1",
             **kwargs: Any) -> LoginResult:
        state = self.cookies.get(browser or "", {}).get(relay_state or "")
        return self.sp.complete_login(encode(xml), relay_state, state, **kwargs)

    def login(self, **kwargs: Any) -> LoginResult:
        start = self.start()
        return self.post(self.response(start.request_id, **kwargs), start.relay_token)


def login_to(services: Services, idp: TestIdp) -> str:
    """A whole SP-initiated login to the bridge that ``build_services`` assembled, with a
    response ``idp`` signed; the learner's EID (or the refusal, raised)."""
    sp, settings = services.sp, services.settings
    begun = sp.begin_login(SAKAI + "/portal")
    xml = idp.signed_response(acs_url=settings.acs_url, sp_entity_id=settings.sp_entity_id,
                              in_response_to=begun.request_id)
    return str(sp.complete_login(encode(xml), begun.relay_token, begun.state).identity.eid)


def build_bridge(tmp_path: Path, idp: TestIdp, idp_extra: dict[str, Any] | None = None,
                 extra: dict[str, Any] | None = None) -> Bridge:
    (tmp_path / "idp.xml").write_text(idp.metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url=SAKAI,
                             idp={"metadata_file": "idp.xml", **(idp_extra or {})},
                             extra=extra)
    settings = load_settings(path, env)
    creds = load_credentials(settings.path(settings.sp.certificate_file),
                             settings.secrets.sp_private_key)
    metadata = load_idp_metadata(file=settings.path("idp.xml"))
    saml_settings = build_saml_settings(settings, metadata, creds.certificate_base64)
    store = SqliteStore(str(tmp_path / "state.sqlite3"))
    return Bridge(idp, settings, ServiceProvider(settings, metadata, saml_settings, store), store)


@pytest.fixture
def bridge(tmp_path: Path, test_idp: TestIdp) -> Bridge:
    return build_bridge(tmp_path, test_idp)


@pytest.fixture
def make_bridge(tmp_path: Path, test_idp: TestIdp) -> Callable[..., Bridge]:
    def make(**idp_extra: Any) -> Bridge:
        return build_bridge(tmp_path, test_idp, idp_extra)
    return make
