"""Signed IdP metadata (``idp.metadata_signing_certificate``, saml-hardening.md B19).

Whoever can change the metadata on its way or where it is kept could put their own key in it
and sign in as anyone. With a metadata signer configured, the bridge starts (and refreshes)
only from metadata whose root element that signer signed; anything else is refused at
start-up with the key named, and a refresh keeps the last good copy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lxml import etree

from sso_bridge import errors
from sso_bridge.keys import generate
from sso_bridge.services import Services, build_services
from sso_bridge.settings import load_settings
from tests.saml.conftest import BASE, SAKAI, login_to
from tests.samlfactory.idp import NS, TestIdp, sign_element
from tests.support import write_config

IDP = TestIdp()
ATTACKER = TestIdp(entity_id=IDP.entity_id)  # the same IdP's name, someone else's key


@pytest.fixture(scope="module")
def signers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """(key PEM, certificate PEM) of the federation's metadata signer and of another one."""
    folder = tmp_path_factory.mktemp("signers")
    found = {}
    for name in ("federation", "other"):
        generate(folder / f"{name}.key", folder / f"{name}.crt", common_name=name, bits=2048,
                 days=30)
        found[name] = ((folder / f"{name}.key").read_text(), (folder / f"{name}.crt").read_text())
    return found


def signed_metadata(idp: TestIdp, signer: tuple[str, str], *, algorithm: str = "sha256",
                    edit: Callable[[etree._Element], None] | None = None,
                    aggregate: bool = False) -> bytes:
    """The IdP's metadata, its root signed by ``signer``; ``edit`` changes it after signing.
    ``aggregate``: an EntitiesDescriptor around it, only the inner EntityDescriptor signed."""
    entity = etree.fromstring(idp.metadata_xml().encode())
    entity.set("ID", "_metadata")
    root = entity
    if aggregate:
        root = etree.Element(f"{{{NS['md']}}}EntitiesDescriptor", nsmap={"md": NS["md"]})
        root.append(entity)
    sign_element(entity, key_pem=signer[0], cert_pem=None,
                 algorithm=algorithm)  # type: ignore[arg-type]
    if edit is not None:
        edit(root)
    return etree.tostring(root)


def start(tmp_path: Path, metadata: bytes, signer_cert: str | None = "signer.crt",
          **idp: object) -> Services:
    (tmp_path / "idp.xml").write_bytes(metadata)
    settings: dict[str, object] = {"metadata_file": "idp.xml", **idp}
    if signer_cert:
        settings["metadata_signing_certificate"] = signer_cert
    path, env = write_config(tmp_path, base_url=BASE, sakai_url=SAKAI, idp=settings)
    return build_services(load_settings(path, env))


@pytest.fixture
def signer_file(tmp_path: Path, signers: dict[str, tuple[str, str]]) -> Path:
    path = tmp_path / "signer.crt"
    path.write_text(signers["federation"][1])
    return path


def refused(tmp_path: Path, metadata: bytes) -> str:
    with pytest.raises(errors.ConfigError) as caught:
        start(tmp_path, metadata)
    problems = "\n".join(caught.value.problems)
    assert "'idp.metadata_signing_certificate'" in problems
    return problems


def test_metadata_signed_by_the_configured_signer_is_trusted(
        tmp_path: Path, signer_file: Path, signers: dict[str, tuple[str, str]]) -> None:
    services = start(tmp_path, signed_metadata(IDP, signers["federation"]))
    assert services.idp.entity_id == IDP.entity_id
    assert login_to(services, IDP)


def test_unsigned_metadata_is_refused(tmp_path: Path, signer_file: Path) -> None:
    assert "is not signed" in refused(tmp_path, IDP.metadata_xml().encode())


def test_metadata_signed_by_another_key_is_refused(
        tmp_path: Path, signer_file: Path, signers: dict[str, tuple[str, str]]) -> None:
    assert "is not signed by the key of" in refused(
        tmp_path, signed_metadata(IDP, signers["other"]))


def test_an_idp_key_swapped_after_signing_is_refused(
        tmp_path: Path, signer_file: Path, signers: dict[str, tuple[str, str]]) -> None:
    """The attack itself: the attacker's certificate put in place of the IdP's."""
    attacker_cert = ATTACKER.cert_pem.split("-----")[2].replace("\n", "")

    def swap(root: etree._Element) -> None:
        for cert in root.iter(f"{{{NS['ds']}}}X509Certificate"):
            if cert.getparent().getparent().getparent().tag == f"{{{NS['md']}}}KeyDescriptor":
                cert.text = attacker_cert

    problems = refused(tmp_path, signed_metadata(IDP, signers["federation"], edit=swap))
    assert "changed after signing" in problems


def test_only_an_inner_entity_signed_is_not_a_signed_document(
        tmp_path: Path, signer_file: Path, signers: dict[str, tuple[str, str]]) -> None:
    assert "is not signed" in refused(
        tmp_path, signed_metadata(IDP, signers["federation"], aggregate=True))


def test_a_sha1_signature_is_refused(tmp_path: Path, signer_file: Path,
                                     signers: dict[str, tuple[str, str]]) -> None:
    assert "outside the SAML profile" in refused(
        tmp_path, signed_metadata(IDP, signers["federation"], algorithm="sha1"))


def test_the_signed_id_used_twice_is_refused(tmp_path: Path, signer_file: Path,
                                             signers: dict[str, tuple[str, str]]) -> None:
    def decoy(root: etree._Element) -> None:
        extensions = etree.Element(f"{{{NS['md']}}}Extensions")
        etree.SubElement(extensions, "{urn:example}Decoy", ID="_metadata")
        root.find(f"{{{NS['md']}}}IDPSSODescriptor").addprevious(extensions)

    assert "twice" in refused(tmp_path, signed_metadata(IDP, signers["federation"],
                                                        edit=decoy))


@pytest.mark.parametrize("content, expected", [
    (None, "cannot read"),
    ("not a certificate", "is not a PEM certificate"),
])
def test_a_bad_signer_certificate_is_named(tmp_path: Path, signers: dict[str, tuple[str, str]],
                                           content: str | None, expected: str) -> None:
    if content is not None:
        (tmp_path / "signer.crt").write_text(content)
    problems = refused(tmp_path, signed_metadata(IDP, signers["federation"]))
    assert expected in problems and "signer.crt" in problems


def test_a_refresh_to_unsigned_metadata_keeps_the_signed_copy(
        tmp_path: Path, signer_file: Path, signers: dict[str, tuple[str, str]]) -> None:
    services = start(tmp_path, signed_metadata(IDP, signers["federation"]))
    before = services.idp
    (tmp_path / "idp.xml").write_text(ATTACKER.metadata_xml())  # unsigned, the attacker's key
    assert services.refresher.refresh_now() is False
    assert services.idp is before
    assert login_to(services, IDP)
    with pytest.raises(errors.SamlInvalid):
        login_to(services, ATTACKER)


def test_a_refresh_to_newly_signed_metadata_is_trusted(
        tmp_path: Path, signer_file: Path, signers: dict[str, tuple[str, str]]) -> None:
    services = start(tmp_path, signed_metadata(IDP, signers["federation"]))
    rolled = TestIdp(entity_id=IDP.entity_id)
    (tmp_path / "idp.xml").write_bytes(signed_metadata(rolled, signers["federation"]))
    assert services.refresher.refresh_now() is True
    assert login_to(services, rolled)


# --- metadata over plain HTTP --------------------------------------------------------------


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    folder = tmp_path / "www"
    folder.mkdir()
    handler = partial(QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_port}/idp.xml"
    server.shutdown()
    server.server_close()


def test_unsigned_metadata_over_http_is_warned_about(tmp_path: Path,
                                                     http_folder: tuple[Path, str]) -> None:
    folder, url = http_folder
    (folder / "idp.xml").write_text(IDP.metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url=SAKAI,
                             idp={"metadata_url": url, "metadata_allow_http": True})
    warnings = build_services(load_settings(path, env)).warnings
    assert any("plain HTTP" in w and "metadata_signing_certificate" in w for w in warnings)


def test_signed_metadata_over_http_is_verified_and_not_warned_about(
        tmp_path: Path, http_folder: tuple[Path, str], signer_file: Path,
        signers: dict[str, tuple[str, str]]) -> None:
    folder, url = http_folder
    (folder / "idp.xml").write_bytes(signed_metadata(IDP, signers["federation"]))
    path, env = write_config(tmp_path, base_url=BASE, sakai_url=SAKAI, idp={
        "metadata_url": url, "metadata_allow_http": True,
        "metadata_signing_certificate": "signer.crt"})
    services = build_services(load_settings(path, env))
    assert not any("plain HTTP" in w for w in services.warnings)
    assert login_to(services, IDP)
    (folder / "idp.xml").write_text(ATTACKER.metadata_xml())
    assert services.refresher.refresh_now() is False  # an unsigned swap on the wire
    assert login_to(services, IDP)


def test_check_config_says_the_signature_was_verified(
        tmp_path: Path, signer_file: Path, signers: dict[str, tuple[str, str]]) -> None:
    from click.testing import CliRunner

    from sso_bridge.cli import main

    (tmp_path / "idp.xml").write_bytes(signed_metadata(IDP, signers["federation"]))
    path, env = write_config(tmp_path, base_url=BASE, sakai_url=SAKAI, idp={
        "metadata_file": "idp.xml", "metadata_signing_certificate": "signer.crt"})
    result = CliRunner().invoke(main, ["check-config", "--offline", "--config", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "IdP metadata signature verified with signer.crt" in result.output
    (tmp_path / "idp.xml").write_text(IDP.metadata_xml())
    result = CliRunner().invoke(main, ["check-config", "--offline", "--config", str(path)], env=env)
    assert result.exit_code == 1
    assert "'idp.metadata_signing_certificate'" in result.output
