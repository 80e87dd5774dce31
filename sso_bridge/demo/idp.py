"""A real SimpleSAMLphp IdP on loopback, for the test suite and ``sso-bridge demo``.

Debian's ``simplesamlphp`` is served by ``php -S`` from one work directory holding every file
the IdP reads (nothing under ``/etc`` is used): ``config/`` (``SIMPLESAMLPHP_CONFIG_DIR``),
``metadata/`` (the hosted IdP and ``sp-<name>.xml`` files), ``cert/idp.{key,crt}``, writable
``data/ tmp/ sessions/``, ``log/{simplesamlphp,php-server}.log`` and ``docroot/simplesaml``
(a symlink to the package's ``www``). Values in the generated PHP travel as JSON inside a PHP
single-quoted string, so no name, password, attribute or path can break out of it.
Recipe and pitfalls: ``docs/real-idp.md``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from sso_bridge.demo.idp_files import (
    AUTHSOURCES_PHP,
    CONFIG_PHP,
    HEADER,
    IDP_HOSTED_PHP,
    SP_REMOTE_PHP,
    free_port,
    php_json,
    php_string,
    port_is_free,
    self_signed,
    signal_group,
    write_atomic,
)
from sso_bridge.demo.organisations import DEFAULT_USERS, DemoUser

SSP_WWW = Path("/usr/share/simplesamlphp/www")
INSTALL_COMMAND = (
    "sudo apt-get install -y --no-install-recommends "
    "simplesamlphp php-cli php-xml php-mbstring php-curl php-sqlite3"
)
NAMEID_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
_SP_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
__all__ = ["DEFAULT_USERS", "DemoUser", "IdpNotInstalled", "IdpStartError", "SimpleSamlIdp"]


class IdpNotInstalled(RuntimeError):
    """SimpleSAMLphp, PHP or PHP's XML extension is missing on this machine."""


class IdpStartError(RuntimeError):
    """The IdP did not come up; the message carries the tail of its logs."""



class SimpleSamlIdp:
    """One SimpleSAMLphp IdP served by ``php -S`` in its own process group.

    ``port=0`` picks a free port now, so every URL is known before ``start()``. ``workers > 1``
    sets ``PHP_CLI_SERVER_WORKERS`` (forked workers; ``stop()`` kills them too).
    ``sign_metadata``: the IdP signs its metadata with its own key. ``display_name`` (language →
    name) is published as mdui:DisplayName, ``scope`` as shibmd:Scope. ``cookie_prefix`` names
    its cookies (``<prefix>IdP``, ``<prefix>AuthToken``): cookies ignore ports, so two IdPs on
    one host need two prefixes. As a context manager: ``configure()`` + ``start()`` on entry,
    ``stop()`` on exit.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        users: Sequence[DemoUser] = DEFAULT_USERS,
        trusted_domains: Sequence[str] = (),
        name_id_format: str = NAMEID_TRANSIENT,
        workers: int = 0,
        sign_metadata: bool = False,
        display_name: dict[str, str] | None = None,
        scope: str = "example.org",
        cookie_prefix: str = "SimpleSAML",
    ) -> None:
        bad = [u.username for u in users if ":" in u.username or not u.username]
        if bad:
            raise ValueError(f"user names must be non-empty and without ':': {bad!r}")
        self.workdir = Path(workdir).resolve()
        self.host, self.port = host, port or free_port(host)
        self.trusted_domains = (f"{host}:{self.port}", *trusted_domains)
        self.name_id_format, self.workers = name_id_format, workers
        self.sign_metadata = sign_metadata
        self.display_name, self.scope = dict(display_name or {}), scope
        self.cookie_prefix = cookie_prefix
        self._users = {user.username: user for user in users}
        self._proc: subprocess.Popen[bytes] | None = None
        self.base_url = f"http://{host}:{self.port}/simplesaml/"
        self.entity_id = self.metadata_url = self.base_url + "saml2/idp/metadata.php"
        self.sso_url = self.base_url + "saml2/idp/SSOService.php"
        self.log_path = self.workdir / "log" / "simplesamlphp.log"
        self.server_log_path = self.workdir / "log" / "php-server.log"

    def idp_initiated_url(self, sp_entity_id: str, relay_state: str | None = None) -> str:
        """The URL that starts an unsolicited (IdP-initiated) login at ``sp_entity_id``."""
        query = {"spentityid": sp_entity_id}
        if relay_state is not None:
            query["RelayState"] = relay_state
        return self.sso_url + "?" + urllib.parse.urlencode(query)

    @property
    def certificate_pem(self) -> str:
        return (self.workdir / "cert" / "idp.crt").read_text()

    @property
    def private_key_pem(self) -> str:
        return (self.workdir / "cert" / "idp.key").read_text()

    @property
    def pgid(self) -> int | None:
        """The server's process group (``None`` when stopped)."""
        return self._proc.pid if self._proc is not None else None

    @staticmethod
    def check_installed() -> None:
        """Raise :class:`IdpNotInstalled` unless SimpleSAMLphp, php and php-xml are present."""
        php, missing = shutil.which("php"), []
        if not (SSP_WWW / "_include.php").is_file():
            missing.append(f"SimpleSAMLphp ({SSP_WWW})")
        if php is None:
            missing.append("php (not on PATH)")
        else:
            probe = "exit(extension_loaded('dom') && extension_loaded('xml') ? 0 : 1);"
            done = subprocess.run([php, "-r", probe], capture_output=True, timeout=30, check=False)
            if done.returncode != 0:
                missing.append("the PHP XML extension (php-xml)")
        if missing:
            raise IdpNotInstalled(f"missing {', '.join(missing)}; install with: {INSTALL_COMMAND}")

    def configure(self) -> None:
        """Write every file the IdP reads; an existing key, certificate and salt are kept."""
        for name in ("config", "metadata", "cert", "data", "tmp", "log", "sessions", "docroot"):
            (self.workdir / name).mkdir(parents=True, exist_ok=True)
        link = self.workdir / "docroot" / "simplesaml"
        if not link.is_symlink():
            link.symlink_to(SSP_WWW, target_is_directory=True)
        key, crt = self.workdir / "cert" / "idp.key", self.workdir / "cert" / "idp.crt"
        if not (key.is_file() and crt.is_file()):
            key_pem, cert_pem = self_signed(f"sso-bridge demo IdP {self.host}:{self.port}")
            write_atomic(key, key_pem, 0o600)
            write_atomic(crt, cert_pem)
        self._write_php("config/config.php", CONFIG_PHP.replace("@SETTINGS@", self._settings()))
        self._write_php("metadata/saml20-idp-hosted.php", self._hosted())
        self._write_php("metadata/saml20-sp-remote.php", SP_REMOTE_PHP)
        self._write_authsources()

    def _hosted(self) -> str:
        """The hosted IdP's metadata options: NameID format, scope, signing, mdui:UIInfo."""
        ui_info = {"UIInfo": {"DisplayName": self.display_name}} if self.display_name else {}
        return (IDP_HOSTED_PHP.replace("@NAMEID@", php_string(self.name_id_format))
                .replace("@SCOPE@", php_json([self.scope]))
                .replace("@UIINFO@", php_json(ui_info))
                .replace("@SIGN_METADATA@", "true" if self.sign_metadata else "false"))

    def _settings(self) -> str:
        folder = {name: f"{self.workdir / name}/" for name in ("cert", "log", "data", "tmp")}
        return php_json(
            {
                "baseurlpath": self.base_url,  # a full URL: no Host-header guessing
                "certdir": folder["cert"],
                "loggingdir": folder["log"],
                "datadir": folder["data"],
                "tempdir": folder["tmp"],
                "metadatadir": f"{self.workdir / 'metadata'}/",
                "session.phpsession.savepath": str(self.workdir / "sessions"),
                "secretsalt": self._secret("secretsalt"),
                "auth.adminpassword": self._secret("adminpassword"),
                "trusted.url.domains": list(self.trusted_domains),
                "session.phpsession.cookiename": f"{self.cookie_prefix}IdP",
                "session.authtoken.cookiename": f"{self.cookie_prefix}AuthToken",
            }
        )

    def _secret(self, name: str) -> str:
        """A random value made once per work directory."""
        path = self.workdir / "data" / name
        if not path.is_file():
            write_atomic(path, secrets.token_hex(32).encode(), 0o600)
        return path.read_text().strip()

    def _write_php(self, relative: str, body: str) -> None:
        write_atomic(self.workdir / relative, (HEADER + body).encode())

    def _write_authsources(self) -> None:
        users = {f"{u.username}:{u.password}": u.attributes for u in self._users.values()}
        self._write_php(
            "config/authsources.php", AUTHSOURCES_PHP.replace("@USERS@", php_json(users))
        )

    def register_sp(self, name: str, metadata_xml: bytes, *,
                    encrypt_assertions: bool = False) -> None:
        """Trust an SP from its metadata XML; takes effect at the next request.

        ``encrypt_assertions``: the SP-remote option ``assertion.encryption``, so the IdP
        encrypts to the encryption key of that metadata. SimpleSAMLphp 1.19 (saml2 4.6
        ``EncryptedAssertion::setAssertion``) then always uses RSA-OAEP with AES-128-CBC;
        ``sharedkey_algorithm`` only applies to a pre-shared symmetric key, not to metadata.
        """
        if not _SP_NAME.fullmatch(name):
            raise ValueError(f"SP name {name!r} must match {_SP_NAME.pattern}")
        options = self.workdir / "metadata" / f"sp-{name}.options.json"
        options.unlink(missing_ok=True)
        write_atomic(self.workdir / "metadata" / f"sp-{name}.xml", metadata_xml)
        if encrypt_assertions:
            write_atomic(options, json.dumps({"assertion.encryption": True}).encode())

    def set_user_attributes(self, username: str, attributes: dict[str, list[str]]) -> None:
        """Change what ``username`` releases from the next login in a new IdP session on."""
        if username not in self._users:
            raise KeyError(f"no demo user {username!r}")
        old = self._users[username]
        new = {key: list(values) for key, values in attributes.items()}
        self._users[username] = DemoUser(old.username, old.password, new)
        self._write_authsources()

    def start(self, timeout: float = 15.0) -> None:
        """Launch ``php -S`` in a new session (process group); wait until metadata answers 200."""
        if self._proc is not None:
            return
        if not (self.workdir / "config" / "config.php").is_file():
            raise IdpStartError(f"{self.workdir} is not configured; call configure() first")
        if not port_is_free(self.host, self.port):
            raise IdpStartError(f"{self.host}:{self.port} is already in use")
        env = dict(os.environ, SIMPLESAMLPHP_CONFIG_DIR=str(self.workdir / "config"))
        env.pop("PHP_CLI_SERVER_WORKERS", None)
        if self.workers > 1:
            env["PHP_CLI_SERVER_WORKERS"] = str(self.workers)
        docroot = str(self.workdir / "docroot")
        with self.server_log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                # opcache would serve authsources.php for up to 2 s after set_user_attributes.
                ["php", "-d", "opcache.validate_timestamps=1", "-d", "opcache.revalidate_freq=0",
                 "-S", f"{self.host}:{self.port}", "-t", docroot],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # setsid: php and its forked workers share one group
            )
        try:
            self._wait_ready(self._proc, timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            try:
                with urllib.request.urlopen(self.metadata_url, timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise IdpStartError(f"no IdP metadata after {timeout} s\n{self.log_tail()}")
            time.sleep(0.05)
        raise IdpStartError(f"php -S exited with {proc.returncode}\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the PHP server log and the SimpleSAMLphp log."""
        parts = []
        for path in (self.server_log_path, self.log_path):
            if path.is_file():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} ---\n" + "\n".join(tail))
        return "\n".join(parts) or "(no log output)"

    def stop(self) -> None:
        """Kill the whole process group (master and forked workers); safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        deadline = time.monotonic() + 5
        while signal_group(proc.pid, 0) and time.monotonic() < deadline:
            time.sleep(0.02)  # orphaned workers still exiting
        signal_group(proc.pid, signal.SIGKILL)

    def __enter__(self) -> Self:
        self.configure()
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
