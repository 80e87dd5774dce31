"""The organisations of the demo: whom each IdP knows, how it names itself, how the bridge
trusts it.

``sso-bridge demo`` runs two: the University (scoped eduPersonPrincipalName, preset
simplesamlphp, as a university's IdP is usually set up) and a Partner organisation whose
learners are known by a bare ``uid``, so the bridge appends ``@partner`` to make their EIDs its
own. Each organisation's users are distinct, and a Partner ``uid`` can never name a University
account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DemoUser:
    """A test account of the IdP and the attributes it releases at login."""

    username: str
    password: str
    attributes: dict[str, list[str]]


def person(uid: str, given: str, sn: str, affiliation: str,
           domain: str = "example.org") -> DemoUser:
    """A user ``uid`` / ``<uid>pass`` with an email and a scoped eppn at ``domain``."""
    mail = [f"{uid}@{domain}"]
    attributes = {"uid": [uid], "mail": mail, "givenName": [given], "sn": [sn]}
    attributes |= {"eduPersonAffiliation": ["member", affiliation], "eduPersonPrincipalName": mail}
    return DemoUser(uid, f"{uid}pass", attributes)


DEFAULT_USERS: tuple[DemoUser, ...] = (
    person("alice", "Alice", "Anderson", "student"),
    person("bob", "Bob", "Brown", "faculty"),
    person("carol", "Carol", "Clark", "student"),  # spare: tests may change her attributes
)
PARTNER_SCOPE = "partner.example"
PARTNER_USERS: tuple[DemoUser, ...] = (
    person("partner1", "Petra", "Novak", "student", PARTNER_SCOPE),
    person("partner2", "Pavel", "Orlov", "faculty", PARTNER_SCOPE),
)


@dataclass(frozen=True)
class Organisation:
    """One IdP of the demo and the bridge's trust in it.

    ``key`` names its table in the bridge's config: the first organisation of a stack is
    ``[idp]``, every other one ``[idps.<key>]``. ``display_name`` (language → name) is published
    as mdui:DisplayName in the IdP's metadata; ``scope`` as its shibmd:Scope. ``policy`` holds
    the config keys of its table (its ``attributes`` too).
    """

    key: str
    display_name: dict[str, str]
    scope: str
    users: tuple[DemoUser, ...]
    policy: dict[str, Any] = field(default_factory=dict)

    def name(self, language: str = "en") -> str:
        return self.display_name.get(language) or next(iter(self.display_name.values()), "")


UNIVERSITY = Organisation(
    "university", {"en": "University", "ru": "Университет", "de": "Universität"},
    "example.org", DEFAULT_USERS, {"preset": "simplesamlphp"})
PARTNER = Organisation(
    "partner", {"en": "Partner organisation", "ru": "Партнёрская организация",
                "de": "Partnerorganisation"},
    PARTNER_SCOPE, PARTNER_USERS,
    {"preset": "generic", "eid_suffix": "@partner",
     "attributes": {"eid": ["uid"], "allow_unscoped_eid": True}})
DEMO_ORGANISATIONS: tuple[Organisation, ...] = (UNIVERSITY, PARTNER)
