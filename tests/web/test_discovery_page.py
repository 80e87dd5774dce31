"""The discovery page (issue 14) as a learner uses it: every organisation when there are few,
search without JavaScript and as you type (JSON), names in the learner's language, logos over
https only, the email-domain hint, the page in every language, its own CSP."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from babel.support import Translations
from flask.testing import FlaskClient

from sso_bridge.web.discovery import CSP
from sso_bridge.web.i18n import TRANSLATIONS, shipped_languages
from tests.web.discovery_fixtures import FEW, MANY, discovery_bridge, protocol

LANGUAGES = [lang.code for lang in shipped_languages()]


@pytest.fixture(scope="module")
def few(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    return discovery_bridge(tmp_path_factory.mktemp("few"), FEW).client


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    return discovery_bridge(tmp_path_factory.mktemp("many"), MANY).client


def page(client: FlaskClient, lang: str = "en", **params: str) -> str:
    reply = client.get("/sso/saml/discovery?" + urlencode(protocol(**params)),
                       headers={"Accept-Language": lang})
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Security-Policy"] == CSP
    return reply.text


def names(html: str) -> list[str]:
    """The organisations the page offers, in order (remembered ones first)."""
    return [unescape(n) for n in re.findall(r"<li><a href=\"[^\"]+\">(?:<img[^>]+>)?"
                                            r"<span>([^<]+)</span></a></li>", html)]


def choice_links(html: str) -> dict[str, str]:
    """Name → where its link goes."""
    return {unescape(name): unescape(href) for href, name in re.findall(
        r"<li><a href=\"([^\"]+)\">(?:<img[^>]+>)?<span>([^<]+)</span>", html)}


def test_with_few_idps_the_page_lists_them_all_by_name(few: FlaskClient) -> None:
    html = page(few)
    assert names(html) == ["Al-Farabi Kazakh National University",
                           "American University of Central Asia", "Guest accounts",
                           "Partner Organisation"]  # the configured IdP among the federation's
    link = urlsplit(choice_links(html)["Partner Organisation"])
    assert link.path == "/sso/saml/discovery/choose"
    assert parse_qs(link.query)["choice"] == ["https://login.partner.example/saml"]
    assert "<h1>Choose your organisation</h1>" in html
    assert '<script src="/sso/saml/static/discovery.js" defer></script>' in html


def test_with_many_idps_the_learner_searches_without_javascript(many: FlaskClient) -> None:
    html = page(many)
    assert names(html) == []
    assert "Type the name of your organisation or your email address to find it." in html
    found = page(many, q="central asia")
    assert names(found) == ["American University of Central Asia"]
    assert "Organisations found: 1" in found
    assert 'value="central asia"' in found  # the field keeps what was typed
    by_keyword = page(many, q="bishkek")
    assert names(by_keyword) == ["American University of Central Asia"]
    half_typed = page(many, q="Example Univ")
    assert len(names(half_typed)) == 10  # at most ten at a time
    assert "No organisation matches your search" in page(many, q="zzyzx")


def test_names_are_in_the_learners_language_where_the_metadata_has_it(
        few: FlaskClient) -> None:
    russian = page(few, "ru")
    assert "Казахский национальный университет имени аль-Фараби" in names(russian)
    assert "American University of Central Asia" in names(russian)  # no Russian name: English
    assert "Гостевые учётные записи" in names(russian)  # idp.display_name, in Russian
    assert "<h1>Выберите свою организацию</h1>" in russian
    found = page(few, "ru", q="КазНУ")
    assert names(found) == ["Казахский национальный университет имени аль-Фараби"]


def test_an_email_address_finds_the_idp_by_its_scope(many: FlaskClient) -> None:
    assert names(page(many, q="aigerim@kaznu.example")) == [
        "Al-Farabi Kazakh National University"]
    assert names(page(many, q="a.student@cs.uni7.example")) == ["Example University 7"]
    assert names(page(many, q="someone@elsewhere.example")) == []
    assert names(page(many, q="visitor@guest.example")) == ["Guest accounts"]  # configured


def test_logos_are_shown_only_from_https(few: FlaskClient) -> None:
    html = page(few)
    logos = re.findall(r'<img src="([^"]+)" alt=""', html)
    assert sorted(logos) == ["https://auca.example/logo.svg", "https://kaznu.example/logo.png"]
    assert "http://partner.example" not in html  # the CSP would block it: not offered at all


def test_search_as_you_type_answers_json_in_the_pages_language(many: FlaskClient) -> None:
    reply = many.get("/sso/saml/discovery/search?" + urlencode(protocol(q="алмат", lang="ru")))
    assert reply.status_code == 200 and reply.mimetype == "application/json"
    answer = reply.get_json()
    assert answer["status"] == "Найдено организаций: 1"
    [found] = answer["results"]
    assert found["name"] == "Казахский национальный университет имени аль-Фараби"
    assert found["entityID"] == "https://idp.kaznu.example/idp"
    assert found["logo"] == "https://kaznu.example/logo.png"
    assert parse_qs(urlsplit(found["href"]).query)["choice"] == [found["entityID"]]
    email = many.get("/sso/saml/discovery/search?" + urlencode(protocol(q="x@auca.example")))
    assert [r["name"] for r in email.get_json()["results"]] == [
        "American University of Central Asia"]
    nothing = many.get("/sso/saml/discovery/search?" + urlencode(protocol(q="qqq", lang="en")))
    assert nothing.get_json()["results"] == []
    assert nothing.get_json()["status"].startswith("No organisation matches")


def test_the_json_refuses_what_the_page_refuses(many: FlaskClient) -> None:
    reply = many.get("/sso/saml/discovery/search?" + urlencode(
        protocol(q="x", **{"return": "https://evil.example/"})))
    assert reply.status_code == 400
    assert "https://evil.example" not in reply.text


def test_what_was_typed_is_shown_escaped(many: FlaskClient) -> None:
    html = page(many, q='<script>alert(1)</script>"')
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("code", LANGUAGES)
def test_the_page_in_every_language_keeps_the_request(few: FlaskClient, code: str) -> None:
    """The switcher shows the same discovery request (and search) in another language."""
    html = page(few, q="university")
    links = dict((n, unescape(h)) for h, n in re.findall(
        r'<a href="([^"]+)" lang="[^"]+" hreflang="[^"]+">([^<]+)</a>', html))
    own = {lang.code: lang.name for lang in shipped_languages()}
    if code == "en":
        assert own["en"] not in links  # the current language is not a link
        return
    reply = few.get(links[own[code]])
    assert reply.status_code == 200
    assert reply.headers["Content-Security-Policy"] == CSP
    title = Translations.load(str(TRANSLATIONS), [code]).gettext("Choose your organisation")
    assert f"<h1>{title}</h1>" in reply.text
    assert 'value="university"' in reply.text
    assert "American University of Central Asia" in reply.text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)">',
                             reply.text))
    assert {k: unescape(v) for k, v in hidden.items()} == protocol()


def test_every_other_page_keeps_the_strict_csp(few: FlaskClient) -> None:
    other = few.get("/saml/no-such-page")
    assert "script-src" not in other.headers["Content-Security-Policy"]
    assert "form-action 'none'" in other.headers["Content-Security-Policy"]
    assert few.get("/saml/static/discovery.js").mimetype == "text/javascript"


def test_the_page_needs_nothing_the_csp_forbids(few: FlaskClient) -> None:
    """No inline script, style or event handler: the CSP would block them."""
    html = page(few)
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assert " style=" not in html and "<style" not in html
    assert re.search(r"\son[a-z]+=", html) is None


def test_the_script_does_what_the_page_needs(few: FlaskClient) -> None:
    script = (Path(__file__).parents[2] / "sso_bridge/web/static/discovery.js").read_text()
    html = page(few)
    assert 'id="results" class="results" aria-live="polite"' in html
    assert 'data-search="/sso/saml/discovery/search"' in html
    assert "fetch(" in script and "textContent" in script and "innerHTML" not in script
