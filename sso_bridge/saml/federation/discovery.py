"""Finding one's IdP among thousands: search as you type, and the email-domain hint.

``Discovery`` is built once per index generation from the index's ``discovery`` table (names,
keywords, scopes, a logo per IdP; no certificates) and answers ``search(query, language)``:

* the text of each IdP is its mdui DisplayName and Keywords in the learner's language, else
  English, else any language it has (else its entityID);
* matching ignores case and accents; every word typed must begin a word of the name or of the
  keywords (the last word may be half typed); a name that begins with the whole query ranks
  first, then word matches in the name, then in the keywords, then matches inside words;
* a query with ``@`` is an email address: the IdPs whose ``shibmd:Scope`` is its domain come
  first, then those whose scope is a parent domain (``cs.uni.example`` → ``uni.example``, but
  never a bare top-level domain).

The per-language texts are prepared on first use of a language, so a search is one pass of
substring checks (done by CPython in C) over the IdPs, and word checks only on candidates.
"""

from __future__ import annotations

import heapq
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sso_bridge.saml.federation.index import FederationIndex
from sso_bridge.saml.metadata import Scope

_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Choice:
    entity_id: str
    name: str
    """The display name in the learner's language (or the fallback)."""
    logo: str
    matched: str
    """``name``, ``keyword``, ``email`` or ``text``."""


@dataclass(frozen=True)
class _Entry:
    entity_id: str
    names: dict[str, str]
    keywords: dict[str, tuple[str, ...]]
    scopes: tuple[Scope, ...]
    logo: str


@dataclass(frozen=True)
class _Text:
    entry: _Entry
    name: str
    folded: str
    """The folded name, then the folded keywords after a tab."""
    name_words: tuple[str, ...]
    keyword_words: tuple[str, ...]


def fold(text: str) -> str:
    """Lower case, no accents, words separated by single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", bare.casefold()).split())


def _pick(values: dict[str, Any], language: str) -> Any:
    for key in (language, language.split("-")[0], "en"):
        if key in values:
            return values[key]
    return next(iter(values.values()), None)


class Discovery:
    def __init__(self, entries: Iterable[tuple[str, dict[str, Any]]],
                 languages: Iterable[str] = ()) -> None:
        """``languages``: prepare their texts now (a worker does so once per index) rather
        than at the first search in each."""
        self._entries = [_Entry(entity_id, entry["names"],
                                {k: tuple(v) for k, v in entry["keywords"].items()},
                                tuple(Scope(v, r) for v, r in entry["scopes"]), entry["logo"])
                         for entity_id, entry in entries]
        self._texts: dict[str, list[_Text]] = {}
        self._numbers = {entry.entity_id: n for n, entry in enumerate(self._entries)}
        self._by_scope: dict[str, list[int]] = {}
        self._regexp_scoped: list[int] = []
        for number, entry in enumerate(self._entries):
            for scope in entry.scopes:
                if scope.regexp:
                    self._regexp_scoped.append(number)
                else:
                    self._by_scope.setdefault(scope.value.lower(), []).append(number)
        for language in languages:
            self._in(language)

    def __len__(self) -> int:
        return len(self._entries)

    def scopes(self) -> list[tuple[str, tuple[Scope, ...]]]:
        """Each IdP's entityID and scopes."""
        return [(e.entity_id, e.scopes) for e in self._entries]

    def choice(self, entity_id: str, language: str = "en") -> Choice | None:
        """One IdP as a search would show it (a remembered choice), None if it is not here."""
        number = self._numbers.get(entity_id)
        if number is None:
            return None
        text = self._in(language)[number]
        return Choice(entity_id, text.name, text.entry.logo, "name")

    def listed(self, language: str = "en", limit: int = 50) -> list[Choice]:
        """The IdPs by name, at most ``limit``."""
        texts = heapq.nsmallest(limit, self._in(language), key=lambda t: t.folded)
        return [Choice(t.entry.entity_id, t.name, t.entry.logo, "name") for t in texts]

    def _in(self, language: str) -> list[_Text]:
        language = language.lower()
        if language not in self._texts:
            texts = []
            for entry in self._entries:
                name = _pick(entry.names, language) or entry.entity_id
                keywords = fold(" ".join(_pick(entry.keywords, language) or ()))
                folded = fold(name)
                texts.append(_Text(entry, name, f"{folded}\t{keywords}",
                                   tuple(folded.split()), tuple(keywords.split())))
            self._texts[language] = texts
        return self._texts[language]

    def search(self, query: str, language: str = "en", limit: int = 10) -> list[Choice]:
        if "@" in query:
            return self._by_email(query, language, limit)
        words = fold(query).split()
        if not words:
            return []
        whole = " ".join(words)
        ranked = [(_rank(text, words, whole), text.folded, number)
                  for number, text in enumerate(self._in(language))
                  if all(word in text.folded for word in words)]
        texts = self._in(language)
        return [Choice(texts[number].entry.entity_id, texts[number].name,
                       texts[number].entry.logo, _MATCHED[rank])
                for rank, _, number in heapq.nsmallest(limit, ranked)]

    def _by_email(self, query: str, language: str, limit: int) -> list[Choice]:
        domain = query.rsplit("@", 1)[1].strip().lower().rstrip(".")
        if not domain:
            return []
        texts = self._in(language)
        exact = set(self._by_scope.get(domain, ()))
        exact.update(n for n in self._regexp_scoped
                     if any(s.matches(domain) for s in self._entries[n].scopes))
        labels = domain.split(".")
        parent = {n for i in range(1, len(labels) - 1)
                  for n in self._by_scope.get(".".join(labels[i:]), ())} - exact
        ordered = (sorted((texts[n] for n in exact), key=lambda t: t.folded)
                   + sorted((texts[n] for n in parent), key=lambda t: t.folded))
        return [Choice(t.entry.entity_id, t.name, t.entry.logo, "email")
                for t in ordered[:limit]]


_MATCHED = ("name", "name", "keyword", "text")


def _rank(text: _Text, words: list[str], whole: str) -> int:
    """0: the name begins with the query; 1: every word begins a word of the name; 2: ... of
    the name or the keywords; 3: every word is inside the name or the keywords."""
    if text.folded.startswith(whole):
        return 0
    if _begin_words(words, text.name_words):
        return 1
    return 2 if _begin_words(words, text.name_words + text.keyword_words) else 3


def _begin_words(typed: list[str], words: tuple[str, ...]) -> bool:
    return all(any(word.startswith(t) for word in words) for t in typed)


class LiveDiscovery:
    """A worker's Discovery over an index, rebuilt when a refresh replaced the index. The old
    one is let go before the new one is built, so a worker never holds two (its memory stays
    flat across refreshes); a search that still holds the old one finishes on it."""

    def __init__(self, index: FederationIndex, languages: Iterable[str] = ("en",)) -> None:
        self.index, self.languages = index, tuple(languages)
        self._current: tuple[tuple[int, int], Discovery] | None = None
        self._lock = threading.Lock()

    def current(self) -> Discovery:
        generation = self.index.generation
        current = self._current
        if current is not None and current[0] == generation:
            return current[1]
        del current  # or it would keep the old one alive while the new one is built
        with self._lock:
            if self._current is None or self._current[0] != generation:
                self._current = None
                self._current = (generation, Discovery(self.index.discovery_entries(),
                                                       self.languages))
            return self._current[1]
