"""A bridge trusting a small federation of IdPs, for the discovery page's tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient

from sso_bridge.app import create_app
from sso_bridge.saml.federation.discovery import Choice, Discovery
from sso_bridge.services import build_services
from sso_bridge.settings import load_settings
from tests.federation.factory import Idp, key_pair
from tests.samlfactory.idp import TestIdp
from tests.support import write_config

BASE = "https://lms.example.edu/sso"
SAKAI = "https://lms.example.edu"
SP_ENTITY = BASE + "/saml/metadata"
LOGIN = BASE + "/saml/login"
TARGET = SAKAI + "/portal/site/physics"
RETURN = LOGIN + "?" + urlencode({"target": TARGET})


def protocol(**more: str) -> dict[str, str]:
    """A discovery request as ``/saml/login`` sends it."""
    return {"entityID": SP_ENTITY, "return": RETURN, "returnIDParam": "idp", **more}


def university(number: int) -> Idp:
    return Idp(f"https://idp{number}.example/idp", scopes=[f"uni{number}.example"],
               names={"en": f"Example University {number}"},
               keywords={"en": f"town{number}"}, certs=[CERT])


CERT = key_pair("idp")[1]
FEW = [
    Idp("https://idp.kaznu.example/idp", scopes=["kaznu.example"],
        names={"en": "Al-Farabi Kazakh National University",
               "ru": "Казахский национальный университет имени аль-Фараби",
               "kk": "Әл-Фараби атындағы Қазақ ұлттық университеті"},
        keywords={"en": "Almaty KazNU", "ru": "Алматы КазНУ"},
        logo="https://kaznu.example/logo.png", certs=[CERT]),
    Idp("https://login.partner.example/saml", scopes=["partner.example"],
        names={"en": "Partner Organisation", "ru": "Партнёрская организация"},
        keywords={"en": "guest visitors"}, logo="http://partner.example/logo.png",
        certs=[CERT]),
    Idp("https://idp.auca.example/idp", scopes=["auca.example"],
        names={"en": "American University of Central Asia"}, keywords={"en": "Bishkek AUCA"},
        logo="https://auca.example/logo.svg", certs=[CERT]),
]
MANY = FEW + [university(n) for n in range(1, 21)]


class _Idps:
    """``sso_bridge.idps.Idps``'s interface over the engine's own search (until the core)."""

    def __init__(self, idps: list[Idp]) -> None:
        self.entries = {i.entity_id: i for i in idps}
        self.engine = Discovery([(i.entity_id, {
            "names": i.names, "keywords": {k: v.split() for k, v in i.keywords.items()},
            "scopes": [(s, False) for s in i.scopes], "logo": i.logo}) for i in idps])

    def get(self, entity_id: str) -> object | None:
        return self.entries.get(entity_id)

    def search(self, query: str, language: str, limit: int = 10) -> list[Choice]:
        return self.engine.search(query, language, limit)

    def choice(self, entity_id: str, language: str) -> Choice | None:
        found = [c for c in self.listed(language, 10_000) if c.entity_id == entity_id]
        return found[0] if found else None

    def listed(self, language: str, limit: int) -> list[Choice]:
        texts = self.engine._in(language)
        return sorted((Choice(t.entry.entity_id, t.name, t.entry.logo, "name") for t in texts),
                      key=lambda c: c.name.casefold())[:limit]

    def count(self) -> int:
        return len(self.entries)


@dataclass
class Bridge:
    client: FlaskClient
    settings: Any


def discovery_bridge(tmp_path: Path, idps: list[Idp], *, remember_days: int = 90,
                     external_url: str = "") -> Bridge:
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url=SAKAI,
                             idp={"metadata_file": "idp.xml"})
    settings = load_settings(path, env)
    object.__setattr__(settings, "discovery", SimpleNamespace(
        external_url=external_url, remember_days=remember_days))
    services = build_services(settings)
    services.idps = _Idps(idps)  # type: ignore[attr-defined]
    return Bridge(create_app(settings, services).test_client(), settings)
