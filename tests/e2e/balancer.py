"""A real Apache httpd (Debian's apache2) in front of simulated Sakai nodes, the way Sakai sites
front their Tomcats: mod_proxy_balancer, sticky on the JSESSIONID suffix (``route`` = each
node's serverId). Its own config file, ServerRoot, PidFile and logs in a temporary folder, on a
free loopback port; /etc/apache2 and its sites are never touched."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.e2e.processes import free_port, wait_until

MODULES = Path("/usr/lib/apache2/modules")
_CONFIG = """\
ServerRoot {root}
PidFile {root}/httpd.pid
DefaultRuntimeDir {root}/run
Mutex file:{root}/run default
Listen 127.0.0.1:{port}
ServerName 127.0.0.1:{port}
User www-data
Group www-data
ErrorLog {root}/error.log
LogLevel warn
# The path only (%U): a ?sakai.session= never reaches the log; which member served it.
LogFormat "%h \\"%m %U\\" %>s route=%{{BALANCER_WORKER_ROUTE}}e" routed
CustomLog {root}/access.log routed

LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule headers_module {modules}/mod_headers.so
LoadModule proxy_module {modules}/mod_proxy.so
LoadModule proxy_http_module {modules}/mod_proxy_http.so
LoadModule proxy_balancer_module {modules}/mod_proxy_balancer.so
LoadModule lbmethod_byrequests_module {modules}/mod_lbmethod_byrequests.so
LoadModule slotmem_shm_module {modules}/mod_slotmem_shm.so

KeepAlive On
KeepAliveTimeout 5
<Proxy "balancer://sakai">
{members}
</Proxy>
ProxyPass "/" "balancer://sakai/" stickysession=JSESSIONID|jsessionid
ProxyPassReverse "/" "balancer://sakai/"
"""


class ApacheBalancer:
    def __init__(self, workdir: Path, members: Sequence[tuple[str, str]]) -> None:
        """``members``: (node URL, route = that node's serverId)."""
        self.root = workdir
        self.port = free_port()
        self.members = list(members)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ApacheBalancer:
        binary = shutil.which("apache2") or "/usr/sbin/apache2"
        assert Path(binary).exists(), "apache2 is missing: scripts/setup.sh installs it"
        (self.root / "run").mkdir(parents=True, exist_ok=True)
        members = "\n".join(f'    BalancerMember "{url}" route={route}'
                            for url, route in self.members)
        conf = self.root / "httpd.conf"
        conf.write_text(_CONFIG.format(root=self.root, port=self.port, modules=MODULES,
                                       members=members))
        self.proc = subprocess.Popen([binary, "-f", str(conf), "-DFOREGROUND"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until(lambda: requests.get(self.url + "/direct/session/current.json",
                                        timeout=2).ok, 20, f"Apache (log: {self.error_log()})")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def error_log(self) -> str:
        path = self.root / "error.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def access_log(self) -> str:
        path = self.root / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def running_balancer(workdir: Path, members: Sequence[tuple[str, str]]) -> Iterator[ApacheBalancer]:
    balancer = ApacheBalancer(workdir, members).start()
    try:
        yield balancer
    finally:
        balancer.stop()
