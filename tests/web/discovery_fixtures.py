"""A bridge trusting a small federation of IdPs, for the discovery page's tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient

from sso_bridge.app import create_app
from sso_bridge.settings import load_settings
from tests.federation.factory import Idp, aggregate_xml, idp_xml, key_pair, sign_aggregate
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
FEDERATION = key_pair("federation")
GUEST = TestIdp("https://guest.example/idp", "https://guest.example/sso", scopes=("guest.example",))
GUEST_NAMES = {"en": "Guest accounts", "ru": "Гостевые учётные записи"}
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


@dataclass
class Bridge:
    client: FlaskClient
    settings: Any


def discovery_bridge(tmp_path: Path, idps: list[Idp], *, remember_days: int = 90,
                     external_url: str = "") -> Bridge:
    """A bridge trusting ``GUEST`` (configured, named by ``display_name``) and a federation
    of ``idps`` (a signed aggregate), as an admin sets it up."""
    key, cert = FEDERATION
    (tmp_path / "federation.crt").write_text(cert)
    (tmp_path / "federation.xml").write_bytes(
        sign_aggregate(aggregate_xml([idp_xml(i) for i in idps]), key))
    (tmp_path / "guest.xml").write_text(GUEST.metadata_xml())
    path, env = write_config(
        tmp_path, base_url=BASE, sakai_url=SAKAI,
        idp={"metadata_file": "guest.xml", "display_name": GUEST_NAMES},
        extra={"federations": {"test": {"file": "federation.xml",
                                        "signing_certificate": "federation.crt"}},
               "discovery": {"remember_days": remember_days, "external_url": external_url},
               "store": {"state_directory": "state"}})  # the index: this test's own
    settings = load_settings(path, env)
    return Bridge(create_app(settings).test_client(), settings)
