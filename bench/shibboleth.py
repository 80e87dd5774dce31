"""Part 3's peer: Shibboleth SP 3 (Debian's libapache2-mod-shib + shibd) on loopback.

A standalone Apache (``bench/shib/httpd.conf``, Debian's mpm_event defaults) with mod_shib and
its own shibd, configured entirely in a work folder from the templates in ``bench/shib/`` (the
recipe of real-idp.md section 7): nothing in /etc/shibboleth or /etc/apache2 is changed. It
trusts the benchmark IdP's metadata (the same key the bridge trusts) and protects /secure/.
A login: GET /secure/ → 302 to the IdP with an AuthnRequest and RelayState ss:mem:…; POST of
the signed Response to /Shibboleth.sso/SAML2/POST → session cookie and 302 back to /secure/.
"""

from __future__ import annotations

import os
import shutil
import signal
import string
import subprocess
import time
from pathlib import Path
from typing import Any

from common import children, cpu_seconds, memory_kb, tree_cpu_seconds, wait_http

TEMPLATES = Path(__file__).resolve().parent / "shib"
PACKAGES = ("apache2", "libapache2-mod-shib", "shibboleth-sp-utils")
MOD_SHIB = Path("/usr/lib/apache2/modules/mod_shib.so")


def missing() -> str | None:
    """Why Shibboleth SP cannot run here, or None."""
    for binary in ("shibd", "apache2"):
        if not (shutil.which(binary) or Path(f"/usr/sbin/{binary}").exists()):
            return f"{binary} is not installed (bash bench/setup.sh installs {' '.join(PACKAGES)})"
    if not MOD_SHIB.exists():
        return f"{MOD_SHIB} is missing (libapache2-mod-shib)"
    if os.geteuid() != 0:
        return "Apache with User www-data and shibd need root here (run the bench as root)"
    return None


class Shibboleth:
    def __init__(self, workdir: Path, idp: Any, port: int) -> None:
        self.work, self.idp, self.port = workdir, idp, port
        self.shibd: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def entity_id(self) -> str:
        return self.url + "/shibboleth"

    @property
    def acs_url(self) -> str:
        return self.url + "/Shibboleth.sso/SAML2/POST"

    def configure(self) -> None:
        from sso_bridge.keys import generate

        for sub in ("run", "log", "www/secure"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        (self.work / "log").chmod(0o777)  # mod_shib (www-data) writes native.log there
        values = {"WORK": str(self.work), "PORT": str(self.port), "SP_ENTITY": self.entity_id,
                  "IDP_ENTITY": self.idp.entity_id}
        for template in TEMPLATES.iterdir():
            text = string.Template(template.read_text()).substitute(values)
            (self.work / template.name).write_text(text)
        (self.work / "idp-metadata.xml").write_text(self.idp.metadata_xml())
        generate(self.work / "sp-key.pem", self.work / "sp-cert.pem",
                 common_name="shib-sp.bench", bits=2048, days=30)
        (self.work / "www" / "secure" / "index.html").write_text("signed in\n")
        for path in self.work.rglob("*"):
            path.chmod(path.stat().st_mode | 0o044 | (0o011 if path.is_dir() else 0))
        self.work.chmod(0o755)
        check = subprocess.run(["shibd", "-t", "-c", str(self.work / "shibboleth2.xml")],
                               capture_output=True, text=True, timeout=60)
        if check.returncode != 0:
            raise RuntimeError(f"shibd -t failed:\n{check.stdout}{check.stderr}")

    def start(self, timeout: float = 60) -> Shibboleth:
        socket_path = self.work / "run" / "shibd.sock"
        with (self.work / "log" / "shibd.console").open("ab") as console:
            self.shibd = subprocess.Popen(
                ["shibd", "-F", "-f", "-c", str(self.work / "shibboleth2.xml"),
                 "-p", str(self.work / "run" / "shibd.pid")],
                stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not socket_path.exists():
            if time.monotonic() > deadline or self.shibd.poll() is not None:
                raise RuntimeError(f"shibd did not start: {self._tail('shibd.console')}")
            time.sleep(0.05)
        started = subprocess.run(["apache2", "-f", str(self.work / "httpd.conf"), "-k", "start"],
                                 capture_output=True, text=True, timeout=60)
        if started.returncode != 0:
            raise RuntimeError(f"apache2 did not start: {started.stderr}")
        wait_http(self.url + "/Shibboleth.sso/Status", timeout, "Shibboleth SP")
        return self

    def stop(self) -> None:
        master = self.apache_pid()
        subprocess.run(["apache2", "-f", str(self.work / "httpd.conf"), "-k", "stop"],
                       capture_output=True, timeout=60)
        deadline = time.monotonic() + 20
        while master and Path(f"/proc/{master}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.shibd is not None and self.shibd.poll() is None:
            self.shibd.send_signal(signal.SIGTERM)
            try:
                self.shibd.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.shibd.kill()
                self.shibd.wait()

    def apache_pid(self) -> int | None:
        try:
            return int((self.work / "run" / "httpd.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def cpu_seconds(self) -> float:
        """Apache (master, its reaped and live children) plus shibd."""
        master = self.apache_pid()
        total = tree_cpu_seconds(master) if master else 0.0
        if self.shibd is not None:
            total += cpu_seconds(self.shibd.pid, with_reaped_children=True)
        return total

    def memory(self) -> dict[str, int]:
        """Peak RSS (kB) of shibd and of the largest Apache child."""
        master = self.apache_pid()
        apache = [memory_kb(pid).get("VmHWM", 0) for pid in children(master)] if master else []
        shibd = memory_kb(self.shibd.pid).get("VmHWM", 0) if self.shibd else 0
        return {"shibd": shibd, "apache_child": max(apache, default=0)}

    def _tail(self, name: str) -> str:
        path = self.work / "log" / name
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""
