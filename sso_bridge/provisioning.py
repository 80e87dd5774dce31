"""Make sure the learner's Sakai account exists, may be used and is current; get them a session.

In order, for every login:

1. **Protected accounts** (``admin``, the web-services account, ``sakai.protected_eids``) are
   refused before any Sakai call: the bridge never signs them in and never modifies them.
2. **Light check** (a returning learner whose attributes are unchanged since the last full
   check, within ``sakai.full_check_seconds``): ``getUserProperty(disabled)``, which also tells
   a deleted account (Sakai answers ``""`` for an unknown EID). Then ``getSessionForUser``:
   2 calls. With the opt-in ``sakai.account_cache_seconds`` the check is skipped: 1 call, and an
   account disabled in Sakai is let in until the cache expires (Sakai's ``getSessionForUser``
   does not check ``disabled``; the bridge is the only gate).
3. **Full check** otherwise: the bridge's mark (:data:`MARK`) tells whether the account exists
   (``""``: no such EID) and whether the bridge created or linked it. An account it did not is
   linked only when its Sakai user type is in ``sakai.link_existing_types`` (then marked
   ``linked``), else :class:`AccountLinkRefused`, before anything is changed. Then
   ``disabled``, and name, email and user type are brought in step, each only when it differs
   from what Sakai holds (names compared as Sakai stores them: :mod:`sso_bridge.sakai.names`).
   An unmarked account that another login of the same learner is creating at this moment
   (between ``addNewUser`` and its mark; a note in the store says so for 60 s) is the bridge's.

Calls: first login 4 (getUserProperty, addNewUser, setUserProperty, getSessionForUser);
returning 2; full check of an existing account 6 plus one per changed field.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Protocol

from sso_bridge.errors import (
    AccountDisabled,
    AccountLinkRefused,
    AccountProtected,
    ConfigError,
    IdentityError,
    SakaiOperationFailed,
    SakaiUserExists,
    StoreUnavailable,
)
from sso_bridge.identity import Identity, SakaiSession, normalise_eid
from sso_bridge.sakai.names import display_name
from sso_bridge.settings import SakaiSection
from sso_bridge.store import Store

log = logging.getLogger("sso_bridge.provisioning")
CACHE_PREFIX = "account:"
MARK = "sso_bridge.account"
"""The user property by which the bridge knows its own accounts: ``created`` or ``linked``."""
CREATED, LINKED = "created", "linked"
ALWAYS_PROTECTED = ("admin",)
CREATING, CREATING_SECONDS = ":creating", 60


class SakaiAccounts(Protocol):
    """The part of :class:`sso_bridge.sakai.client.SakaiClient` provisioning needs."""

    def get_user_property(self, eid: str, name: str) -> str | None: ...
    def set_user_property(self, eid: str, name: str, value: str) -> bool: ...
    def get_user_email(self, eid: str) -> str: ...
    def get_user_display_name(self, eid: str) -> str: ...
    def get_user_type(self, eid: str) -> str: ...
    def add_new_user(self, eid: str, first_name: str, last_name: str, email: str,
                     user_type: str, password: str) -> None: ...
    def change_user_name(self, eid: str, first_name: str, last_name: str) -> None: ...
    def change_user_email(self, eid: str, email: str) -> None: ...
    def change_user_type(self, eid: str, user_type: str) -> None: ...
    def session_for_user(self, eid: str) -> tuple[str, str]: ...


class ProtectedAccounts:
    """``admin``, the web-services account and ``sakai.protected_eids`` (exact EIDs and
    shell-style patterns), all normalised as Sakai normalises EIDs."""

    def __init__(self, config: SakaiSection) -> None:
        try:
            entries = [normalise_eid(e) for e in (*ALWAYS_PROTECTED, config.admin_user,
                                                  *config.protected_eids)]
        except IdentityError as exc:
            raise ConfigError(f"'sakai.protected_eids': {exc.detail}") from None
        self.exact = frozenset(e for e in entries if not _is_pattern(e))
        self.patterns = tuple(e for e in entries if _is_pattern(e))

    def refuse(self, eid: str) -> None:
        if eid in self.exact or any(fnmatchcase(eid, p) for p in self.patterns):
            raise AccountProtected(f"the EID {eid!r} is a protected Sakai account (admin, the "
                                   "web-services account or sakai.protected_eids)")


def _is_pattern(entry: str) -> bool:
    return any(c in entry for c in "*?[")


@dataclass(frozen=True)
class Outcome:
    created: bool = False
    updated: bool = False


class Provisioner:
    def __init__(self, sakai: SakaiAccounts, store: Store, config: SakaiSection) -> None:
        self.sakai = sakai
        self.store = store
        self.config = config
        self.protected = ProtectedAccounts(config)

    def user_type(self, identity: Identity) -> str:
        """The type of the learner's first affiliation found in their IdP's ``user_types``
        (else ``sakai.user_types``), else ``sakai.default_user_type``."""
        types = dict(identity.idp_user_types) or self.config.user_types
        for affiliation in identity.affiliations:
            if affiliation in types:
                return types[affiliation]
        return self.config.default_user_type

    def ensure_account(self, identity: Identity) -> SakaiSession:
        self.protected.refuse(identity.eid)
        key = CACHE_PREFIX + hashlib.sha256(identity.eid.encode()).hexdigest()
        fingerprint = _fingerprint(identity)
        outcome = self._check(identity, key, fingerprint)
        try:
            session_id, server_id = self.sakai.session_for_user(identity.eid)
        except SakaiOperationFailed as exc:
            if not exc.exception_class.endswith("UserNotDefinedException"):
                raise
            log.info("Sakai no longer has the account %r; checking it again", identity.eid)
            self._forget(key)
            outcome = self._full_check(identity, key, fingerprint)
            session_id, server_id = self.sakai.session_for_user(identity.eid)
        log.debug("sakai session ready for %r (created=%s, updated=%s)",
                  identity.eid, outcome.created, outcome.updated)
        return SakaiSession(session_id=session_id, server_id=server_id,
                            eid=identity.eid, account_created=outcome.created,
                            account_updated=outcome.updated)

    # --- light check and its memory --------------------------------------------------------

    def _check(self, identity: Identity, key: str, fingerprint: str) -> Outcome:
        checked_at = self._recall(key, fingerprint)
        if checked_at is not None:
            cache = self.config.account_cache_seconds
            if cache > 0 and time.time() - checked_at < cache:
                return Outcome()
            if self._still_there(identity.eid):
                if self.config.account_cache_seconds > 0:
                    self._remember(key, fingerprint)
                return Outcome()
            log.info("Sakai no longer has the account %r; checking it again", identity.eid)
        return self._full_check(identity, key, fingerprint)

    def _still_there(self, eid: str) -> bool:
        """The light check: False if Sakai has no such EID; AccountDisabled if disabled."""
        disabled = self.sakai.get_user_property(eid, "disabled")
        if disabled == "":  # the answer for an unknown EID (or a blank property: recheck)
            return False
        _refuse_disabled(eid, disabled)
        return True

    def _recall(self, key: str, fingerprint: str) -> float | None:
        """When the account was last checked with these attributes (None: not remembered)."""
        if self.config.full_check_seconds <= 0:
            return None
        value = self.store.get(key)
        remembered, _, checked_at = (value or "").partition(" ")
        if remembered != fingerprint:
            return None
        try:
            return float(checked_at)
        except ValueError:
            return None

    def _remember(self, key: str, fingerprint: str) -> None:
        if self.config.full_check_seconds <= 0:
            return
        try:
            self.store.put(key, f"{fingerprint} {time.time():.0f}",
                           self.config.full_check_seconds)
        except StoreUnavailable:
            log.warning("could not remember the account check; the next login checks again")

    def _forget(self, key: str) -> None:
        try:
            self.store.put(key, "", 1)
        except StoreUnavailable:
            log.warning("could not forget the account check")

    # --- full check ------------------------------------------------------------------------

    def _full_check(self, identity: Identity, key: str, fingerprint: str) -> Outcome:
        eid = identity.eid
        mark = self.sakai.get_user_property(eid, MARK)
        if mark == "" and self._create(identity, key):  # "": Sakai has no such EID
            self._remember(key, fingerprint)
            return Outcome(created=True)
        if mark is None and self.store.get(key + CREATING) is not None:
            # Another login of this learner created it a moment ago and has not marked it yet.
            self.sakai.set_user_property(eid, MARK, CREATED)
            mark = CREATED
        need_type = mark is None or self.config.sync_user_type
        sakai_type = self.sakai.get_user_type(eid) if need_type else ""
        if mark is None:
            self._link(eid, sakai_type)
        _refuse_disabled(eid, self.sakai.get_user_property(eid, "disabled"))
        updated = self._sync(identity, sakai_type)
        self._remember(key, fingerprint)
        return Outcome(updated=updated)

    def _create(self, identity: Identity, key: str) -> bool:
        """Create and mark the account; False if it was created at the same moment by another
        login of the same learner (Sakai had no such EID a moment ago), which is then marked.
        Until it is marked, the note ``<key>:creating`` tells the other logins it is ours."""
        password = secrets.token_urlsafe(48)  # never stored, never logged: SSO-only account
        created = True
        try:
            self.store.put(key + CREATING, "1", CREATING_SECONDS)
        except StoreUnavailable:
            log.warning("could not note the account creation; a concurrent login may be refused")
        try:
            self.sakai.add_new_user(identity.eid, identity.given_name, identity.family_name,
                                    identity.email, self.user_type(identity), password)
        except SakaiUserExists:
            log.info("account %r was created concurrently; checking it instead", identity.eid)
            created = False
        self.sakai.set_user_property(identity.eid, MARK, CREATED)
        return created

    def _link(self, eid: str, sakai_type: str) -> None:
        """Take over an existing account the bridge did not create, if the policy allows."""
        allowed = self.config.link_existing_types
        if "*" not in allowed and sakai_type not in allowed:
            raise AccountLinkRefused(
                f"the Sakai account {eid!r} was not created by the bridge and its type "
                f"{sakai_type!r} is not in sakai.link_existing_types")
        if not self.sakai.set_user_property(eid, MARK, LINKED):
            raise AccountLinkRefused(f"the Sakai account {eid!r} cannot be marked as linked "
                                     "(Sakai keeps no editable record of it)")
        log.info("linked the existing Sakai account %r (type %r)", eid, sakai_type)

    def _sync(self, identity: Identity, sakai_type: str) -> bool:
        eid, changed = identity.eid, False
        wanted_name = display_name(identity.given_name, identity.family_name, eid)
        if self.sakai.get_user_display_name(eid) != wanted_name:
            self.sakai.change_user_name(eid, identity.given_name, identity.family_name)
            changed = True
        if self.sakai.get_user_email(eid).strip().lower() != identity.email.lower():
            self.sakai.change_user_email(eid, identity.email)
            changed = True
        wanted_type = self.user_type(identity)
        if self.config.sync_user_type and sakai_type != wanted_type:
            self.sakai.change_user_type(eid, wanted_type)
            changed = True
        return changed


def _refuse_disabled(eid: str, disabled: str | None) -> None:
    if disabled is not None and disabled.strip().lower() == "true":
        raise AccountDisabled(f"the Sakai account {eid!r} has disabled=true")


def _fingerprint(identity: Identity) -> str:
    data = [identity.eid, identity.given_name, identity.family_name, identity.email,
            list(identity.affiliations)]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()
