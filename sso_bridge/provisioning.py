"""Make sure the learner's Sakai account exists and is current, then get them a Sakai session.

Round trips are the cost of a login, so a returning learner whose attributes have not changed
costs one Sakai call (``getSessionForUser``): after a full check the bridge remembers, in the
shared store and for ``sakai.account_cache_seconds``, a fingerprint of what it synced. A change
of name or email changes the fingerprint and triggers a full check. The price: an account an
admin disables in Sakai is refused at most ``account_cache_seconds`` later (0 turns the
cache off).

Calls per login: first login 3 (checkForUser, addNewUser, getSessionForUser); returning with a
cold cache 5 (checkForUser, getUserProperty, getUserEmail, getUserDisplayName,
getSessionForUser) plus one per changed field; returning with a warm cache 1.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from typing import Protocol

from sso_bridge.errors import AccountDisabled, SakaiUserExists, StoreUnavailable
from sso_bridge.identity import Identity, SakaiSession
from sso_bridge.settings import SakaiSection
from sso_bridge.store import Store

log = logging.getLogger("sso_bridge.provisioning")
CACHE_PREFIX = "account:"


class SakaiAccounts(Protocol):
    """The part of :class:`sso_bridge.sakai.client.SakaiClient` provisioning needs."""

    def check_for_user(self, eid: str) -> bool: ...
    def get_user_property(self, eid: str, name: str) -> str | None: ...
    def get_user_email(self, eid: str) -> str: ...
    def get_user_display_name(self, eid: str) -> str: ...
    def add_new_user(self, eid: str, first_name: str, last_name: str, email: str,
                     user_type: str, password: str) -> None: ...
    def change_user_name(self, eid: str, first_name: str, last_name: str) -> None: ...
    def change_user_email(self, eid: str, email: str) -> None: ...
    def session_for_user(self, eid: str) -> tuple[str, str]: ...


class Provisioner:
    def __init__(self, sakai: SakaiAccounts, store: Store, config: SakaiSection) -> None:
        self.sakai = sakai
        self.store = store
        self.config = config

    def user_type(self, identity: Identity) -> str:
        for affiliation in identity.affiliations:
            if affiliation in self.config.user_types:
                return self.config.user_types[affiliation]
        return self.config.default_user_type

    def ensure_account(self, identity: Identity) -> SakaiSession:
        created = updated = False
        fingerprint = _fingerprint(identity)
        cache_key = CACHE_PREFIX + hashlib.sha256(identity.eid.encode()).hexdigest()
        if not self._cached(cache_key, fingerprint):
            if self.sakai.check_for_user(identity.eid):
                self._refuse_if_disabled(identity.eid)
                updated = self._sync(identity)
            else:
                created = self._create(identity)
                updated = not created and self._sync(identity)
            self._remember(cache_key, fingerprint)
        session_id, server_id = self.sakai.session_for_user(identity.eid)
        log.debug("sakai session ready for %s (created=%s, updated=%s)",
                 identity.eid, created, updated)
        return SakaiSession(session_id=session_id, server_id=server_id,
                            eid=identity.eid, account_created=created, account_updated=updated)

    def _cached(self, key: str, fingerprint: str) -> bool:
        if self.config.account_cache_seconds <= 0:
            return False
        return self.store.get(key) == fingerprint

    def _remember(self, key: str, fingerprint: str) -> None:
        if self.config.account_cache_seconds <= 0:
            return
        try:
            self.store.put(key, fingerprint, self.config.account_cache_seconds)
        except StoreUnavailable:
            log.warning("could not cache the account check; the next login checks again")

    def _refuse_if_disabled(self, eid: str) -> None:
        disabled = self.sakai.get_user_property(eid, "disabled")
        if disabled is not None and disabled.strip().lower() == "true":
            raise AccountDisabled(f"the Sakai account {eid} has disabled=true")

    def _create(self, identity: Identity) -> bool:
        """Create the account; False if someone else created it at the same moment."""
        password = secrets.token_urlsafe(48)  # never stored, never logged: SSO-only account
        try:
            self.sakai.add_new_user(identity.eid, identity.given_name, identity.family_name,
                                    identity.email, self.user_type(identity), password)
        except SakaiUserExists:
            log.info("account %s was created concurrently; syncing it instead", identity.eid)
            self._refuse_if_disabled(identity.eid)
            return False
        return True

    def _sync(self, identity: Identity) -> bool:
        changed = False
        wanted_name = f"{identity.given_name} {identity.family_name}".strip()
        if self.sakai.get_user_display_name(identity.eid).strip() != wanted_name:
            self.sakai.change_user_name(identity.eid, identity.given_name, identity.family_name)
            changed = True
        if self.sakai.get_user_email(identity.eid).strip().lower() != identity.email.lower():
            self.sakai.change_user_email(identity.eid, identity.email)
            changed = True
        return changed


def _fingerprint(identity: Identity) -> str:
    data = [identity.eid, identity.given_name, identity.family_name, identity.email,
            list(identity.affiliations)]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()
