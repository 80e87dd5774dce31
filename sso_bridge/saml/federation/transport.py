"""Metadata over HTTP(S), streamed with a size cap.

TO SWITCH: this is the one place the federation code speaks HTTP, directly over urllib3,
because ``sso_bridge/httpclient.py`` (the bridge's HTTP wrapper, over urllib3 too) was not on
main when it was written and reads whole replies into memory. When the wrapper can stream a
reply to a file, these two functions become calls to it.

A reply is written to disk as it arrives (an aggregate of 100 MB never sits in memory as
bytes), and refused past ``max_bytes`` counted after any gzip decoding (a compressed bomb is
cut off too). No redirects, no retries, no proxies from the environment; https with hostname
checks against the system's trust store or only the CA file given; plain http only when the
caller allows it (the metadata is signed, but who serves it is still worth knowing).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import urllib3

from sso_bridge.errors import ConfigError

CHUNK = 256 * 1024


@contextmanager
def _get(url: str, *, timeout: float, ca_file: str, allow_http: bool, setting: str,
         headers: dict[str, str] | None = None) -> Iterator[Any]:
    """The reply to a GET of ``url``, its connection closed afterwards."""
    if not url.startswith("https://") and not (allow_http and url.startswith("http://")):
        raise ConfigError(f"'{setting}': {url} is not an https URL")
    try:
        context = ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"'{setting}': the CA file {ca_file} does not load: {exc}") from exc
    pool = urllib3.PoolManager(ssl_context=context, retries=False,
                               timeout=urllib3.Timeout(connect=timeout, read=timeout))
    try:
        reply = pool.request("GET", url, headers=headers, redirect=False,
                             preload_content=False, decode_content=True)
    except urllib3.exceptions.HTTPError as exc:
        pool.clear()
        raise ConfigError(f"'{setting}': cannot fetch {url}: {type(exc).__name__}") from exc
    try:
        yield reply
    finally:
        reply.release_conn()
        pool.clear()


def _chunks(reply: Any, url: str, max_bytes: int, setting: str) -> Any:
    length = reply.headers.get("Content-Length", "")
    if length.strip().isdigit() and int(length) > max_bytes:
        raise ConfigError(f"'{setting}': {url} is {int(length)} bytes, over the cap of "
                          f"{max_bytes}")
    total = 0
    try:
        for chunk in reply.stream(CHUNK):
            total += len(chunk)
            if total > max_bytes:
                raise ConfigError(f"'{setting}': {url} is larger than the cap of {max_bytes} "
                                  "bytes")
            yield chunk
    except urllib3.exceptions.HTTPError as exc:
        raise ConfigError(f"'{setting}': fetching {url} failed: {type(exc).__name__}") from exc


def fetch_to_file(url: str, destination: Path, *, max_bytes: int, timeout: float,
                  setting: str, ca_file: str = "", allow_http: bool = False) -> int:
    """Stream ``url`` into ``destination``; the byte count. ConfigError (and no file) else."""
    written = 0
    with _get(url, timeout=timeout, ca_file=ca_file, allow_http=allow_http,
              setting=setting) as reply:
        try:
            if reply.status != 200:
                raise ConfigError(f"'{setting}': {url} answered HTTP {reply.status}")
            with open(destination, "wb") as out:
                for chunk in _chunks(reply, url, max_bytes, setting):
                    out.write(chunk)
                    written += len(chunk)
        except BaseException:
            destination.unlink(missing_ok=True)
            raise
    return written


def fetch_bytes(url: str, *, max_bytes: int, timeout: float, setting: str, ca_file: str = "",
                allow_http: bool = False, headers: dict[str, str] | None = None
                ) -> tuple[int, bytes]:
    """``(status, body)`` of a small reply (an MDQ answer); ConfigError past ``max_bytes``."""
    with _get(url, timeout=timeout, ca_file=ca_file, allow_http=allow_http, setting=setting,
              headers=headers) as reply:
        body = b"".join(_chunks(reply, url, max_bytes, setting)) if reply.status == 200 else b""
        return int(reply.status), body
