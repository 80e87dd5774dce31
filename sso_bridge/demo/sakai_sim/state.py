"""The simulated Sakai node's memory: users, sessions, counters, injected failures.

NOT FOR PRODUCTION. One re-entrant lock guards everything; the simulator runs under a threaded
server. Passwords are stored only as salted PBKDF2 hashes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from sso_bridge.demo.sakai_sim.config import SimConfig

EID_MAX = 255
_EID_REMOVED = str.maketrans("", "", "<>,;:\\/")
_PBKDF2_ROUNDS = 10_000
_SWEEP_EVERY = 256
_JAVA_TRIM = "".join(chr(c) for c in range(33))  # String.trim() drops every char <= ' '


class JavaException(Exception):
    """A Java exception thrown inside Sakai: ``java_class`` plus its message."""

    def __init__(self, java_class: str, message: str) -> None:
        super().__init__(message)
        self.java_class = java_class
        self.message = message

    def as_result(self) -> str:
        """The ``"<class> : <message>"`` string SakaiScript mutators return."""
        return f"{self.java_class} : {self.message}"


def clean_eid(eid: str | None) -> str | None:
    """``BaseUserDirectoryService.cleanEid``: lower-case, trimToNull, then drop ``<>,;:\\/``."""
    if eid is None:
        return None
    lowered = eid.lower().strip(_JAVA_TRIM)
    return lowered.translate(_EID_REMOVED) if lowered else None


def _hash_password(password: str, rounds: int) -> str:
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    return f"pbkdf2_sha256${rounds}${salt.hex()}${digest.hex()}"


def _verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    _, rounds, salt, digest = stored.split("$")
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(rounds))
    return hmac.compare_digest(candidate.hex(), digest)


@dataclass
class SimUser:
    id: str
    eid: str
    first: str
    last: str
    email: str
    type: str
    password_hash: str | None
    properties: dict[str, str] = field(default_factory=dict)
    super_user: bool = False

    def set_password(self, password: str | None, rounds: int = _PBKDF2_ROUNDS) -> None:
        self.password_hash = _hash_password(password, rounds) if password else None

    def display_name(self) -> str:
        """``BaseUserEdit.getDisplayName``: first name, a space if there is one, last name;
        the EID when both are empty. Returned as stored: not trimmed, not HTML-escaped."""
        name = f"{self.first} {self.last}" if self.first else self.last
        return name or self.eid

    def public(self) -> dict[str, Any]:
        return {
            "eid": self.eid, "id": self.id, "first": self.first, "last": self.last,
            "email": self.email, "type": self.type, "properties": dict(self.properties),
            "super_user": self.super_user, "has_password": self.password_hash is not None,
        }


@dataclass
class SimSession:
    id: str
    user_id: str | None
    user_eid: str | None
    created: float
    last_access: float
    attributes: dict[str, str] = field(default_factory=dict)


class SimState:
    """Everything one simulated node remembers. All methods are thread-safe."""

    def __init__(self, config: SimConfig, directory: SimState | None = None) -> None:
        """``directory``: another node of the same cluster, whose users (Sakai's database)
        this node shares; sessions stay in each node's own memory, as in Sakai."""
        self.initial = config
        self._directory = directory
        self.lock: threading.RLock = directory.lock if directory is not None \
            else threading.RLock()
        self.stopping = threading.Event()
        self._gauge = threading.Lock()  # not self.lock: counting must not wait for the work
        self.reset()

    @property
    def users(self) -> dict[str, SimUser]:
        return (self._directory or self)._users

    @property
    def id_by_eid(self) -> dict[str, str]:
        return (self._directory or self)._id_by_eid

    def reset(self) -> None:
        with self.lock:
            self.settings = dataclasses.replace(self.initial)
            if self._directory is None:  # the cluster's database lives with its first node
                self._users: dict[str, SimUser] = {}
                self._id_by_eid: dict[str, str] = {}
            self.sessions: dict[str, SimSession] = {}
            self.calls: Counter[str] = Counter()
            self.failures: dict[str, deque[str]] = {}
            self._created_since_sweep = 0
            self.in_flight = self.max_in_flight = 0
            if self._directory is None:
                self._seed_users()

    def _seed_users(self) -> None:
        admin = self.add_user(
            self.settings.admin_eid, "Sakai", "Administrator", "", "", self.settings.admin_password,
            user_id="admin",
        )
        admin.super_user = True
        for seed in self.settings.users:
            user = self.add_user(
                seed["eid"], seed.get("first", ""), seed.get("last", ""), seed.get("email", ""),
                seed.get("type", ""), seed.get("password", ""),
            )
            user.properties.update(seed.get("properties", {}))
            user.super_user = bool(seed.get("super_user", False))

    # --- users -----------------------------------------------------------------------------

    def add_user(
        self, eid: str | None, first: str, last: str, email: str, user_type: str,
        password: str | None, user_id: str | None = None,
    ) -> SimUser:
        """``UserDirectoryService.addUser``; raises :class:`JavaException` like Sakai does."""
        cleaned = clean_eid(eid)
        with self.lock:
            new_id = user_id or str(uuid.uuid4())
            if not cleaned:
                raise JavaException("org.sakaiproject.user.api.UserIdInvalidException", "null")
            if len(cleaned) > EID_MAX:
                raise JavaException(
                    "org.sakaiproject.user.api.UserIdInvalidException", "Eid is too long"
                )
            if cleaned in self.id_by_eid or new_id in self.users:
                raise JavaException(
                    "org.sakaiproject.user.api.UserAlreadyDefinedException", f"{new_id} -{cleaned}"
                )
            user = SimUser(new_id, cleaned, first, last, email, user_type, None)
            user.set_password(password, self.settings.password_hash_rounds)
            self.users[new_id] = user
            self.id_by_eid[cleaned] = new_id
            return user

    def user_by_eid(self, eid: str | None) -> SimUser:
        """``getUserByEid``; raises UserNotDefinedException."""
        cleaned = clean_eid(eid)
        with self.lock:
            user_id = self.id_by_eid.get(cleaned or "")
            if user_id is None:
                raise JavaException("org.sakaiproject.user.api.UserNotDefinedException", str(eid))
            return self.users[user_id]

    def find_user(self, eid: str | None) -> SimUser | None:
        try:
            return self.user_by_eid(eid)
        except JavaException:
            return None

    def remove_user(self, user: SimUser) -> None:
        with self.lock:
            self.users.pop(user.id, None)
            self.id_by_eid.pop(user.eid, None)

    def authenticate(self, eid: str, password: str) -> SimUser | None:
        """IdPwEvidence authentication: right password and not ``disabled=true``."""
        user = self.find_user(eid)
        if user is None or not _verify_password(password, user.password_hash):
            return None
        if user.properties.get("disabled", "").lower() == "true":
            return None
        return user

    # --- sessions --------------------------------------------------------------------------

    def start_session(self, user: SimUser | None, **attributes: str) -> SimSession:
        now = time.monotonic()
        session = SimSession(
            str(uuid.uuid4()), user.id if user else None, user.eid if user else None,
            now, now, dict(attributes),
        )
        with self.lock:
            self.sessions[session.id] = session
            self._created_since_sweep += 1
            if self._created_since_sweep >= _SWEEP_EVERY:
                self._sweep(now)
        return session

    def _sweep(self, now: float) -> None:
        self._created_since_sweep = 0
        limit = self.settings.inactive_seconds
        for sid in [s.id for s in self.sessions.values() if now - s.last_access > limit]:
            del self.sessions[sid]

    def get_session(self, sid: str | None, *, touch: bool = False) -> SimSession | None:
        """The live session with that id (None if unknown or expired by inactivity)."""
        if not sid:
            return None
        now = time.monotonic()
        with self.lock:
            session = self.sessions.get(sid)
            if session is None:
                return None
            if now - session.last_access > self.settings.inactive_seconds:
                del self.sessions[sid]
                return None
            if touch:
                session.last_access = now
            return session

    def invalidate(self, sid: str) -> None:
        with self.lock:
            self.sessions.pop(sid, None)

    def is_super(self, session: SimSession) -> bool:
        with self.lock:
            user = self.users.get(session.user_id or "")
            return bool(user and user.super_user)

    def expire_sessions(self, scope: str = "admin") -> int:
        """Forget sessions: of super users (``admin``) or every one (``all``)."""
        with self.lock:
            doomed = [s.id for s in self.sessions.values() if scope == "all" or self.is_super(s)]
            for sid in doomed:
                del self.sessions[sid]
            return len(doomed)

    # --- counters and failure injection ----------------------------------------------------

    def count(self, operation: str) -> None:
        with self.lock:
            self.calls[operation] += 1

    def entered(self, delta: int) -> None:
        """A SOAP call began (+1) or ended (-1): the concurrency a storm puts on Sakai."""
        with self._gauge:
            self.in_flight += delta
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def concurrency(self, reset: bool = False) -> dict[str, int]:
        with self._gauge:
            if reset:
                self.max_in_flight = self.in_flight
            return {"in_flight": self.in_flight, "max_in_flight": self.max_in_flight}

    def add_failures(self, spec: dict[str, Any]) -> None:
        with self.lock:
            for operation, what in spec.items():
                queue = self.failures.setdefault(operation, deque())
                queue.extend(what if isinstance(what, list) else [what])

    def take_failure(self, operation: str) -> str | None:
        with self.lock:
            for key in (operation, "*"):
                queue = self.failures.get(key)
                if queue:
                    return queue.popleft()
            return None
