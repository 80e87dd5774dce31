"""The learner's pages in their languages, the switcher, branding and the catalogues."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations
from click.testing import CliRunner
from flask.testing import FlaskClient

from sso_bridge.app import create_app
from sso_bridge.cli import main
from sso_bridge.settings import load_settings
from sso_bridge.web.errors import BY_KEY
from sso_bridge.web.i18n import TRANSLATIONS, shipped_languages
from sso_bridge.web.logout import SIGNED_OUT_PAGES
from tests.samlfactory.idp import TestIdp
from tests.support import write_config

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://lms.example.edu/sso"
LANGUAGES = [lang.code for lang in shipped_languages()]
OTHER = [code for code in LANGUAGES if code != "en"]
ERROR_ID = "0123456789abcdef"


def source_messages() -> set[str]:
    """Every text the learner's pages show, extracted from the code as pybabel does."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = extract_from_dir(str(ROOT), method_map, options_map,
                             keywords={"_": None, "N_": None, "gettext": None})
    return {message for _, _, message, _, _ in found if isinstance(message, str) and message}


def catalogue(code: str) -> dict[str, tuple[str, bool]]:
    with (TRANSLATIONS / code / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return {str(m.id): (str(m.string), m.fuzzy) for m in read_po(handle) if m.id}


def test_the_six_languages_ship() -> None:
    assert LANGUAGES == ["en", "ru", "kk", "ky", "uz", "az"]


@pytest.mark.parametrize("code", OTHER)
def test_every_text_of_every_page_is_translated(code: str) -> None:
    texts = source_messages()
    assert len(texts) > 50
    translated = catalogue(code)
    missing = sorted(t for t in texts if t not in translated or not translated[t][0])
    fuzzy = sorted(t for t in texts if t in translated and translated[t][1])
    assert not missing, f"{code}: untranslated: {missing}"
    assert not fuzzy, f"{code}: fuzzy: {fuzzy}"
    for text in texts:
        assert re.findall(r"%\(\w+\)s", text) == re.findall(r"%\(\w+\)s", translated[text][0])


@pytest.mark.parametrize("code", OTHER)
def test_the_compiled_catalogue_is_the_po_file(code: str) -> None:
    """The .mo files are committed (no build step on a fresh machine or in the image); this
    fails when a .po was changed without `pybabel compile -d sso_bridge/web/translations`."""
    with (TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        compiled = Translations(handle)
    for msgid, (msgstr, _) in catalogue(code).items():
        assert compiled.gettext(msgid) == msgstr


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    tmp_path = tmp_path_factory.mktemp("pages")
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url="https://lms.example.edu",
                             idp={"metadata_file": "idp.xml"})
    return create_app(load_settings(path, env)).test_client()


@pytest.fixture
def client(app_client: FlaskClient) -> FlaskClient:
    app_client._cookies.clear()  # type: ignore[union-attr]
    return app_client


def _title(html: str) -> str:
    match = re.search(r"<h1>(.*?)</h1>", html)
    assert match, html
    return match.group(1)


@pytest.mark.parametrize(("accept", "code", "tag"), [
    ("kk-KZ,ru;q=0.8,en;q=0.5", "kk", "kk"), ("ru-RU,ru;q=0.9", "ru", "ru"),
    ("uz-Latn-UZ,uz;q=0.9", "uz", "uz-Latn"), ("az-AZ", "az", "az"), ("ky", "ky", "ky"),
    ("fr-FR,de;q=0.5", "en", "en"), ("", "en", "en")])
def test_the_browsers_language_is_chosen(client: FlaskClient, accept: str, code: str,
                                         tag: str) -> None:
    reply = client.get("/saml/no-such-page", headers={"Accept-Language": accept})
    assert reply.status_code == 404
    assert f'<html lang="{tag}" dir="ltr">' in reply.text
    expected = Translations.load(str(TRANSLATIONS), [code]).gettext("There is no such page here")
    assert _title(reply.text) == expected
    assert re.search(r"<code>[0-9a-f]{16}</code>", reply.text)  # the error id stays


def test_the_switcher_remembers_the_choice_and_keeps_the_error_id(client: FlaskClient) -> None:
    page = client.get("/saml/acs", headers={"Accept-Language": "en"})  # GET: refused, 405
    assert page.status_code == 405
    error_id = re.search(r"<code>([0-9a-f]{16})</code>", page.text).group(1)  # type: ignore[union-attr]
    links = dict(re.findall(r'<a href="([^"]+)" lang="[^"]+" hreflang="[^"]+">([^<]+)</a>',
                            page.text))
    to_kazakh = next(href for href, name in links.items() if name == "Қазақша")
    reply = client.get(to_kazakh.replace("&amp;", "&"))
    assert reply.status_code == 200
    assert '<html lang="kk"' in reply.text and f"<code>{error_id}</code>" in reply.text
    assert _title(reply.text) == "Кіру сұрауы толық емес"
    assert "sso_bridge_lang=kk" in reply.headers["Set-Cookie"]
    assert "Path=/sso/" in reply.headers["Set-Cookie"]
    client.set_cookie("sso_bridge_lang", "kk")  # what the browser sends back (behind /sso)
    later = client.get("/saml/nothing", headers={"Accept-Language": "ru"})
    assert '<html lang="kk"' in later.text  # the choice beats the browser's language


def test_the_switcher_cannot_inject_into_the_page(client: FlaskClient) -> None:
    reply = client.get('/saml/language/ru?page=not_found&code=<script>&id="><b>')
    assert reply.status_code == 200
    assert "<script>" not in reply.text and "<b>" not in reply.text
    assert client.get("/saml/language/xx").status_code == 404


@pytest.mark.parametrize("code", LANGUAGES)
@pytest.mark.parametrize("key", sorted(BY_KEY) + sorted(SIGNED_OUT_PAGES))
def test_every_page_renders_in_every_language(client: FlaskClient, key: str, code: str) -> None:
    reply = client.get(f"/saml/language/{code}?page={key}&code={key}&id={ERROR_ID}")
    assert reply.status_code == 200
    page = BY_KEY.get(key) or SIGNED_OUT_PAGES[key]
    translations = Translations.load(str(TRANSLATIONS), [code])
    assert _title(reply.text) == translations.gettext(page.title).replace("'", "&#39;")
    if key in BY_KEY:
        assert f"<code>{ERROR_ID}</code>" in reply.text


def test_static_files_are_the_bridges_and_cached(client: FlaskClient) -> None:
    css = client.get("/saml/static/bridge.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert css.headers["Cache-Control"] == "public, max-age=86400"
    assert client.get("/saml/static/../app.py").status_code == 404
    page = client.get("/saml/x")
    assert "style-src 'self'" in page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]


def test_a_branding_folder_overrides_logo_colours_and_texts(tmp_path: Path) -> None:
    brand = tmp_path / "brand"
    (brand / "static").mkdir(parents=True)
    (brand / "texts").mkdir()
    (brand / "static" / "brand.css").write_text(":root { --brand: #6b1d5e; }")
    (brand / "static" / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (brand / "texts" / "ru.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Sakai sign-in"\nmsgstr "Вход в учебный портал Программы"\n', encoding="utf-8")
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url="https://lms.example.edu",
                             idp={"metadata_file": "idp.xml"},
                             extra={"bridge": {"branding_dir": "brand"}})
    client = create_app(load_settings(path, env)).test_client()
    page = client.get("/saml/x", headers={"Accept-Language": "ru"}).text
    assert "Вход в учебный портал Программы" in page
    assert '/saml/static/brand.css' in page
    assert client.get("/saml/static/logo.svg").data == b"<svg xmlns='http://www.w3.org/2000/svg'/>"
    english = client.get("/saml/x", headers={"Accept-Language": "en"}).text
    assert "Sakai sign-in" in english


def test_check_config_lists_the_languages(tmp_path: Path) -> None:
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url="https://lms.example.edu",
                             idp={"metadata_file": "idp.xml"})
    result = CliRunner().invoke(main, ["check-config", "--config", str(path)], env=env)
    assert "learner pages in: en (English), ru (Русский), kk (Қазақша), ky (Кыргызча), " \
           "uz (O‘zbekcha), az (Azərbaycanca)" in result.output



def test_a_broken_branding_folder_is_named_at_check_config(tmp_path: Path) -> None:
    (tmp_path / "brand" / "texts").mkdir(parents=True)
    (tmp_path / "brand" / "texts" / "kk.po").write_text('not a po file\n')
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url="https://lms.example.edu",
                             idp={"metadata_file": "idp.xml"},
                             extra={"bridge": {"branding_dir": "brand"}})
    result = CliRunner().invoke(main, ["check-config", "--config", str(path)], env=env)
    assert result.exit_code == 1
    assert "'bridge.branding_dir'" in result.output and "kk.po" in result.output


def test_pages_that_send_to_the_helpdesk_say_it_once(client: FlaskClient) -> None:
    reply = client.get(f"/saml/language/en?page=account_protected&code=x&id={ERROR_ID}")
    assert reply.text.count("helpdesk") == 1
    assert f"<code>{ERROR_ID}</code>" in reply.text


def test_the_installed_package_carries_templates_css_and_compiled_catalogues() -> None:
    """The image installs the package (not the source tree): package-data must name every
    file the pages need, the .mo files included."""
    import fnmatch
    import tomllib

    web = ROOT / "sso_bridge" / "web"
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["sso_bridge.web"]
    needed = [p.relative_to(web).as_posix() for folder in ("templates", "static", "translations")
              for p in (web / folder).rglob("*") if p.is_file() and p.suffix != ".pot"]
    assert any(name.endswith("kk/LC_MESSAGES/messages.mo") for name in needed)
    for name in needed:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
