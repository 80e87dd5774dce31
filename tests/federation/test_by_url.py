"""An aggregate by URL: streamed to disk under a configurable cap, https checked against the
CA given, plain http only when allowed; a refused download leaves nothing behind."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sso_bridge.errors import ConfigError
from sso_bridge.saml.federation.build import BuildSpec, build
from sso_bridge.saml.federation.index import FederationIndex
from tests.federation.servers import file_server
from tests.sakai.tls import localhost_certificate, server_context

Make = Callable[..., BuildSpec]
UNI = "https://idp.uni.example/idp"


@pytest.fixture
def served(tmp_path: Path, federation: Make) -> tuple[Path, BuildSpec]:
    """The aggregate in a served folder, and the spec (by file) that wrote it."""
    spec = federation()
    folder = tmp_path / "www"
    folder.mkdir()
    (folder / "aggregate.xml").write_bytes(Path(spec.file).read_bytes())
    return folder, spec


def by_url(spec: BuildSpec, url: str, **changes: object) -> BuildSpec:
    values = {**spec.__dict__, "file": "", "url": url, **changes}
    return BuildSpec(**values)  # type: ignore[arg-type]


def left_behind(spec: BuildSpec) -> list[str]:
    return sorted(p.name for p in Path(spec.index).parent.glob("*")) if Path(
        spec.index).parent.exists() else []


def test_an_aggregate_over_https_is_streamed_verified_and_indexed(
        tmp_path: Path, served: tuple[Path, BuildSpec]) -> None:
    folder, spec = served
    cert, key = localhost_certificate(tmp_path)
    with file_server(folder, server_context(cert, key), host="localhost") as base:
        summary = build(by_url(spec, f"{base}/aggregate.xml", ca_file=str(cert)))
    assert summary.idp_count == 3 and summary.source.startswith("https://localhost:")
    assert FederationIndex(Path(spec.index)).find(UNI) is not None
    assert left_behind(spec) == ["idps.sqlite"]  # the download is gone


def test_a_server_not_signed_by_the_ca_given_is_refused(
        tmp_path: Path, served: tuple[Path, BuildSpec]) -> None:
    folder, spec = served
    cert, key = localhost_certificate(tmp_path)
    with file_server(folder, server_context(cert, key), host="localhost") as base, \
            pytest.raises(ConfigError) as caught:
        build(by_url(spec, f"{base}/aggregate.xml"))
    assert "'federations.test.url': cannot fetch" in caught.value.detail
    assert left_behind(spec) == []


def test_an_aggregate_over_the_cap_is_refused_and_nothing_is_left(
        served: tuple[Path, BuildSpec]) -> None:
    folder, spec = served
    size = (folder / "aggregate.xml").stat().st_size
    with file_server(folder) as base:
        with pytest.raises(ConfigError) as caught:
            build(by_url(spec, f"{base}/aggregate.xml", allow_http=True, max_bytes=size - 1))
        assert "over the cap" in caught.value.detail
        assert left_behind(spec) == []
        assert build(by_url(spec, f"{base}/aggregate.xml", allow_http=True,
                            max_bytes=size)).idp_count == 3


def test_plain_http_is_refused_unless_allowed(served: tuple[Path, BuildSpec]) -> None:
    folder, spec = served
    with file_server(folder) as base, pytest.raises(ConfigError) as caught:
        build(by_url(spec, f"{base}/aggregate.xml"))
    assert "is not an https URL" in caught.value.detail


def test_a_missing_aggregate_is_named_with_the_status(served: tuple[Path, BuildSpec]) -> None:
    folder, spec = served
    with file_server(folder) as base, pytest.raises(ConfigError) as caught:
        build(by_url(spec, f"{base}/missing.xml", allow_http=True))
    assert "answered HTTP 404" in caught.value.detail


class _Gzipped(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_: object) -> None:
        pass


def test_a_compressed_aggregate_is_capped_by_its_decoded_size(
        served: tuple[Path, BuildSpec]) -> None:
    """A gzip bomb: a small download that would decode to far more than the cap."""
    folder, spec = served
    plain = (folder / "aggregate.xml").read_bytes()
    handler: type[_Gzipped] = type("Handler", (_Gzipped,), {"body": gzip.compress(plain)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/aggregate.xml"
    try:
        assert len(handler.body) < len(plain) // 2
        with pytest.raises(ConfigError) as caught:
            build(by_url(spec, url, allow_http=True, max_bytes=len(plain) - 1))
        assert "larger than the cap" in caught.value.detail
        assert left_behind(spec) == []
        assert build(by_url(spec, url, allow_http=True, max_bytes=len(plain))).idp_count == 3
    finally:
        server.shutdown()
        server.server_close()


def test_a_ca_file_that_does_not_load_is_named(tmp_path: Path,
                                               served: tuple[Path, BuildSpec]) -> None:
    _, spec = served
    (tmp_path / "garbage.pem").write_text("not a certificate")
    with pytest.raises(ConfigError) as caught:
        build(by_url(spec, "https://localhost:1/aggregate.xml",
                     ca_file=str(tmp_path / "garbage.pem")))
    assert "'federations.test.url': the CA file" in caught.value.detail
    assert "garbage.pem does not load" in caught.value.detail
