"""The IdP Discovery Protocol both ways (issue 14): the bridge's discovery page answers only to
the bridge's own login (never an open redirect), remembers the choice, honours isPassive; the
login sends the learner to the discovery service (the bridge's or an external one); the SP
metadata publishes the DiscoveryResponse."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask.testing import FlaskClient
from lxml import etree

from sso_bridge.saml.sp_metadata import IDPDISC, NAMESPACES, schema_problems
from sso_bridge.web.discovery import REMEMBERED_COOKIE
from tests.web.discovery_fixtures import (
    BASE,
    FEW,
    LOGIN,
    RETURN,
    SP_ENTITY,
    TARGET,
    discovery_bridge,
    protocol,
)

KAZNU, PARTNER, AUCA = (i.entity_id for i in FEW)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    return discovery_bridge(tmp_path_factory.mktemp("protocol"), FEW).client


@pytest.fixture
def client(shared: FlaskClient) -> FlaskClient:
    shared._cookies.clear()  # type: ignore[union-attr]
    return shared


def choose(client: FlaskClient, entity_id: str, **params: str) -> object:
    return client.get("/sso/saml/discovery/choose?" + urlencode(
        protocol(**params) | {"choice": entity_id}))


def offered(client: FlaskClient, **params: str) -> list[str]:
    reply = client.get("/sso/saml/discovery?" + urlencode(protocol(**params)))
    assert reply.status_code == 200, reply.text
    return [unescape(n) for n in re.findall(r"<span>([^<]+)</span></a></li>", reply.text)]


def test_choosing_returns_to_the_login_with_the_idp_and_remembers_it(
        client: FlaskClient) -> None:
    reply = choose(client, PARTNER)
    assert reply.status_code == 302  # type: ignore[attr-defined]
    assert reply.location == RETURN + "&" + urlencode({"idp": PARTNER})  # type: ignore[attr-defined]
    cookie = reply.headers["Set-Cookie"]  # type: ignore[attr-defined]
    assert cookie.startswith(REMEMBERED_COOKIE + "=")
    for part in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/sso/saml/",
                 f"Max-Age={90 * 86400}"):
        assert part in cookie


def test_the_remembered_idp_is_offered_first_next_time(client: FlaskClient) -> None:
    assert offered(client)[0] == "Al-Farabi Kazakh National University"
    choose(client, PARTNER)
    choose(client, AUCA)
    page = client.get("/sso/saml/discovery?" + urlencode(protocol())).text
    assert page.index("Used last time") < page.index('role="search"')
    assert offered(client) == ["American University of Central Asia", "Partner Organisation",
                               "Al-Farabi Kazakh National University", "Guest accounts"]


def test_is_passive_goes_back_at_once(client: FlaskClient) -> None:
    reply = client.get("/sso/saml/discovery?" + urlencode(protocol(isPassive="true")))
    assert reply.status_code == 302 and reply.location == RETURN  # nothing remembered
    choose(client, AUCA)
    again = client.get("/sso/saml/discovery?" + urlencode(protocol(isPassive="true")))
    assert again.location == RETURN + "&" + urlencode({"idp": AUCA})


def test_return_and_return_id_param_have_the_protocols_defaults(client: FlaskClient) -> None:
    reply = client.get("/sso/saml/discovery/choose?" + urlencode(
        {"entityID": SP_ENTITY, "choice": KAZNU}))
    assert reply.location == LOGIN + "?" + urlencode({"entityID": KAZNU})
    assert client.get("/sso/saml/discovery?" + urlencode(
        protocol(policy="urn:oasis:names:tc:SAML:profiles:SSO:idp-discovery-protocol:single"))
    ).status_code == 200


def test_a_remembered_choice_is_kept_only_for_remember_days(tmp_path: Path) -> None:
    client = discovery_bridge(tmp_path, FEW, remember_days=0).client
    reply = choose(client, AUCA)
    assert reply.status_code == 302  # type: ignore[attr-defined]
    assert "Set-Cookie" not in reply.headers  # type: ignore[attr-defined]


def test_a_forged_remembered_cookie_offers_only_trusted_idps(client: FlaskClient) -> None:
    import base64
    import json
    value = base64.urlsafe_b64encode(json.dumps(
        ["https://evil.example/idp", AUCA]).encode()).decode()
    client.set_cookie(REMEMBERED_COOKIE, value, path="/sso/saml/")
    assert offered(client)[0] == "American University of Central Asia"
    assert "evil" not in client.get("/sso/saml/discovery?" + urlencode(protocol())).text
    passive = client.get("/sso/saml/discovery?" + urlencode(protocol(isPassive="true")))
    assert passive.location.endswith("&" + urlencode({"idp": AUCA}))
    client.set_cookie(REMEMBERED_COOKIE, "%%%not base64", path="/sso/saml/")
    assert len(offered(client)) == 4  # nothing remembered: all four, by name


@pytest.mark.parametrize(("attack", "return_url"), [
    ("other_host", "https://evil.example/sso/saml/login"),
    ("javascript_scheme", "javascript:alert(document.cookie)"),
    ("another_path_on_the_bridge", BASE + "/saml/logout"),
    ("another_path_on_the_host", "https://lms.example.edu/portal"),
    ("protocol_relative", "//evil.example/sso/saml/login"),
    ("lookalike_host", "https://lms.example.edu.evil.example/sso/saml/login"),
    ("userinfo_host", "https://lms.example.edu@evil.example/sso/saml/login"),
    ("plain_http", "http://lms.example.edu/sso/saml/login"),
    ("backslash", "https://lms.example.edu/sso/saml/login\\@evil.example"),
    ("fragment", LOGIN + "#x"),
    ("path_traversal", BASE + "/saml/login/../../evil"),
    ("relative", "/sso/saml/login"),
    ("already_names_the_idp", LOGIN + "?idp=https://evil.example/idp"),
    ("already_names_the_idp_encoded", LOGIN + "?target=x&%69dp=https://evil.example/idp"),
])
def test_open_redirect_through_return_is_refused(client: FlaskClient, attack: str,
                                                 return_url: str) -> None:
    for path, extra in (("/sso/saml/discovery", {}), ("/sso/saml/discovery", {"isPassive": "true"}),
                        ("/sso/saml/discovery/choose", {"choice": KAZNU})):
        reply = client.get(path + "?" + urlencode(protocol(**extra) | {"return": return_url}))
        assert reply.status_code == 400, (attack, path)
        assert "(bad_target)" in reply.text
        assert "Location" not in reply.headers
        assert "Set-Cookie" not in reply.headers


@pytest.mark.parametrize(("attack", "params", "code"), [
    ("another_sp", {"entityID": "https://evil.example/sp"}, "bad_request"),
    ("no_sp", {"entityID": ""}, "bad_request"),
    ("unsupported_policy", {"policy": "urn:example:policy"}, "bad_request"),
    ("is_passive_not_boolean", {"isPassive": "yes"}, "bad_request"),
    ("return_id_param_injection", {"returnIDParam": "idp&target=https://evil.example"},
     "bad_request"),
])
def test_malformed_discovery_requests_are_refused(client: FlaskClient, attack: str,
                                                  params: dict[str, str], code: str) -> None:
    reply = client.get("/sso/saml/discovery?" + urlencode(protocol(**params)))
    assert reply.status_code == 400, attack
    assert f"({code})" in reply.text


def test_choosing_an_idp_the_bridge_does_not_trust_is_idp_unknown(client: FlaskClient) -> None:
    reply = choose(client, "https://evil.example/idp")
    assert reply.status_code == 400  # type: ignore[attr-defined]
    text = reply.text  # type: ignore[attr-defined]
    assert "(idp_unknown)" in text
    assert "This organisation is not one this site trusts. Choose yours from the list." in text
    link = unescape(re.search(r'<a class="button" href="([^"]+)">Choose your organisation</a>',
                              text).group(1))  # type: ignore[union-attr]
    query = parse_qs(urlsplit(link).query)
    assert urlsplit(link).path == "/sso/saml/discovery"
    assert query["entityID"] == [SP_ENTITY] and query["returnIDParam"] == ["idp"]
    assert client.get(link).status_code == 200  # the link leads to the list
    assert "Set-Cookie" not in reply.headers  # type: ignore[attr-defined]


def test_the_sp_metadata_publishes_the_discovery_response(client: FlaskClient) -> None:
    xml = client.get("/sso/saml/metadata").text
    assert schema_problems(xml) == []
    root = etree.fromstring(xml.encode())
    [response] = root.findall("md:SPSSODescriptor/md:Extensions/idpdisc:DiscoveryResponse",
                              NAMESPACES)
    assert dict(response.attrib) == {"Binding": IDPDISC, "Location": LOGIN, "index": "1"}


def test_the_login_sends_the_learner_to_the_discovery_page_and_back(client: FlaskClient) -> None:
    """The whole round: /saml/login without an IdP, the page, the choice, the IdP."""
    start = client.get("/sso/saml/login?" + urlencode({"target": TARGET}))
    assert start.status_code == 302
    to_page = urlsplit(start.location)
    assert f"{to_page.scheme}://{to_page.netloc}{to_page.path}" == BASE + "/saml/discovery"
    assert parse_qs(to_page.query) == {"entityID": [SP_ENTITY], "return": [RETURN],
                                       "returnIDParam": ["idp"]}
    page = client.get("/sso/saml/discovery?" + to_page.query)
    link = re.search(r'<a href="([^"]+)"><img[^>]+><span>American University',
                     page.text).group(1)  # type: ignore[union-attr]
    back = client.get(unescape(link))
    assert back.location == RETURN + "&" + urlencode({"idp": AUCA})
    to_idp = client.get("/sso/saml/login?" + urlsplit(back.location).query)
    assert to_idp.status_code == 302
    assert to_idp.location.startswith("https://idp.auca.example/idp/profile/SAML2/Redirect/SSO?")
    assert "SAMLRequest=" in to_idp.location


def test_an_external_discovery_service_gets_the_protocols_request(tmp_path: Path) -> None:
    external = "https://service.seamlessaccess.example/ds/?lang=en"
    client = discovery_bridge(tmp_path, FEW, external_url=external).client
    start = client.get("/sso/saml/login?" + urlencode({"target": TARGET}))
    assert start.status_code == 302
    assert start.location.startswith(external + "&")
    assert parse_qs(urlsplit(start.location).query) == {
        "lang": ["en"], "entityID": [SP_ENTITY], "return": [RETURN], "returnIDParam": ["idp"]}
    answer = client.get("/sso/saml/login?" + urlencode({"target": TARGET, "idp": KAZNU}))
    assert answer.location.startswith("https://idp.kaznu.example/idp/profile/SAML2/Redirect/SSO?")


def test_an_unknown_idp_in_the_login_offers_the_discovery_page_for_the_same_target(
        client: FlaskClient) -> None:
    reply = client.get("/sso/saml/login?" + urlencode(
        {"target": TARGET, "idp": "https://evil.example/idp"}))
    assert reply.status_code == 400 and "(idp_unknown)" in reply.text
    link = unescape(re.search(r'<a class="button" href="([^"]+)"',
                              reply.text).group(1))  # type: ignore[union-attr]
    assert parse_qs(urlsplit(link).query)["return"] == [RETURN]  # the learner's target kept
