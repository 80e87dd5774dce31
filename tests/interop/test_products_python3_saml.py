"""Each product's default response also passes python3-saml's own strict ``is_valid`` with the
settings the bridge builds from the preset (the validation issue 10 hands back to it), with
the libxmlsec1 transform allow-list in force."""

from __future__ import annotations

from pathlib import Path

import pytest
from onelogin.saml2.response import OneLogin_Saml2_Response

from sso_bridge.saml import xmlsec_policy
from sso_bridge.services import build_services
from sso_bridge.settings import load_settings
from tests.interop.conftest import ACS, BRIDGE, SP_ENTITY
from tests.samlfactory import products
from tests.samlfactory.idp import TestIdp, encode
from tests.support import write_config

REQUEST_DATA = {"https": "on", "http_host": "bridge.example.org", "server_port": "443",
                "script_name": "/saml/acs", "get_data": {}, "post_data": {}}


@pytest.mark.parametrize("product", sorted(products.SHAPES))
def test_the_default_response_passes_python3_saml_is_valid(tmp_path: Path,
                                                            product: str) -> None:
    workdir = tmp_path
    shape = products.SHAPES[product]
    idp = TestIdp(entity_id=shape.entity_id, scopes=("example.org",))
    (workdir / "idp.xml").write_text(idp.metadata_xml())
    path, env = write_config(workdir, base_url=BRIDGE, sakai_url="http://127.0.0.1:9",
                             idp={"metadata_file": "idp.xml", "preset": product})
    services = build_services(load_settings(path, env))
    assert xmlsec_policy.installed()
    xml = products.build(shape, idp, acs_url=ACS, sp_entity_id=SP_ENTITY,
                         in_response_to="_request", sp_cert_pem=(workdir / "sp.crt").read_text())
    response = OneLogin_Saml2_Response(services.sp.saml_settings, encode(xml))
    assert response.is_valid(REQUEST_DATA, "_request", raise_exceptions=True)
    assert response.get_nameid() == shape.name_id
