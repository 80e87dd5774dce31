"""The learner's language: Flask-Babel with gettext catalogues, chosen per request.

The choice, in order: the language the learner picked with the switcher (a cookie), the best
match of the browser's ``Accept-Language``, English. Catalogues live in
``web/translations/<lang>/LC_MESSAGES/messages.po`` (and the compiled ``.mo`` beside it); a
translator adds a language there, and it is offered as soon as its catalogue exists. A
branding folder may override single texts per language (``web.branding``). Logs stay English:
only templates translate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale
from flask import Flask, g, request
from flask_babel import Babel, get_locale, get_translations

from sso_bridge.web.branding import Branding

TRANSLATIONS = Path(__file__).with_name("translations")
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "sso_bridge_lang"


@dataclass(frozen=True)
class Language:
    code: str
    """The catalogue's name and the cookie's value (``uz`` is Uzbek in Latin script)."""
    tag: str
    """The BCP 47 tag for ``<html lang>``."""
    name: str
    """The language's name in itself, for the switcher."""
    direction: str


_TAGS = {"uz": "uz-Latn"}
_NAMES = {"uz": "O‘zbekcha", "ky": "Кыргызча", "kk": "Қазақша", "ru": "Русский",
          "az": "Azərbaycanca", "en": "English"}
ORDER = ("en", "ru", "kk", "ky", "uz", "az")
"""The switcher's order; languages a translator adds come after these."""


def shipped_languages(directory: Path = TRANSLATIONS) -> tuple[Language, ...]:
    """English and every language with a catalogue under ``directory``."""
    codes = {DEFAULT_LANGUAGE} | {p.parent.parent.name
                                  for p in directory.glob("*/LC_MESSAGES/messages.mo")}
    ordered = sorted(codes, key=lambda c: (ORDER.index(c) if c in ORDER else len(ORDER), c))
    return tuple(_language(code) for code in ordered)


def _language(code: str) -> Language:
    locale = Locale.parse(code)
    name = _NAMES.get(code) or (locale.get_display_name(locale) or code).capitalize()
    return Language(code, _TAGS.get(code, code.replace("_", "-")), name,
                    locale.text_direction)


def browser_language(preferred: Iterable[str], codes: list[str]) -> str:
    """The first of the browser's languages (best first) we have, by its primary subtag:
    ``kk-KZ, ru`` is Kazakh, and ``uz-Latn-UZ`` Uzbek."""
    for tag in preferred:
        code = tag.replace("_", "-").split("-", 1)[0].lower()
        if code in codes:
            return code
    return DEFAULT_LANGUAGE


def init_i18n(app: Flask, branding: Branding) -> tuple[Language, ...]:
    languages = shipped_languages()
    codes = [lang.code for lang in languages]
    by_code = {lang.code: lang for lang in languages}

    def select() -> str:
        chosen = g.get("language") or request.cookies.get(LANGUAGE_COOKIE, "")
        if chosen in by_code:
            return chosen
        return browser_language(request.accept_languages.values(), codes)

    Babel(app, locale_selector=select, default_translation_directories=str(TRANSLATIONS))

    def catalogue() -> tuple[str, Any]:
        """This request's language and catalogue, looked up once per request."""
        found = g.get("_catalogue")
        if found is None:
            found = g._catalogue = (str(get_locale() or DEFAULT_LANGUAGE), get_translations())
        return found  # type: ignore[no-any-return]

    def gettext(message: str, **variables: Any) -> str:
        code, translations = catalogue()
        text = branding.text(code, message) or translations.ugettext(message)
        return text % variables if variables else text

    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, lambda s, p, n, **kw: gettext(s if n == 1 else p, num=n, **kw), newstyle=True)

    @app.context_processor
    def language_context() -> dict[str, Any]:
        current = by_code.get(catalogue()[0], by_code[DEFAULT_LANGUAGE])
        return {"language": current, "languages": languages}

    return languages
