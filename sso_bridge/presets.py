"""IdP presets: ``idp.preset`` names the IdP product, and its default behaviour fills every
setting the admin did not write.

Each preset records what that product does out of the box (docs/idp/<product>.md gives the
sources): which element it signs, what it encrypts and how, whether it sends an
AttributeStatement at all, the names of its attributes (claim URIs, OIDs or plain names) and
where the learner's EID comes from. An explicit key in the config file always wins; a key the
admin left out takes the preset's value, else the built-in default. ``check-config`` prints
the preset and what it set.

Products without a scoped identifier (Entra ID, AD FS, Okta, Google, Keycloak) take the EID
from a tenant-wide login name (a UPN, an email-shaped NameID, a username): their presets opt
in to an unscoped EID (``attributes.allow_unscoped_eid``), and ``check-config`` warns about it.
"""

from __future__ import annotations

from typing import Any, Literal

PresetName = Literal["generic", "entra", "adfs", "okta", "google", "shibboleth", "keycloak",
                     "simplesamlphp"]

_CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
_MS_CLAIMS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/"
_SCOPED_EID = ["subject-id", "eduPersonPrincipalName"]
_MICROSOFT_NAMES = {"given_name": _CLAIMS + "givenname", "family_name": _CLAIMS + "surname",
                    "email": _CLAIMS + "emailaddress", "affiliation": _MS_CLAIMS + "role"}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "generic": {"idp": {}, "attributes": {}},
    "entra": {
        # Entra ID signs the assertion only ("Sign SAML assertion"); token encryption, when
        # turned on, is AES-256 (documented; CBC as published encrypted samples show, not
        # checked against a primary source); an exact PasswordProtectedTransport request
        # fails MFA and passwordless sign-ins with AADSTS75011, so no context is requested.
        "idp": {"want_response_signed": False, "want_assertion_signed": True,
                "want_assertions_encrypted": False, "allow_cbc_encryption": True,
                "want_attribute_statement": True, "requested_authn_context": []},
        "attributes": {"eid": [_CLAIMS + "name"], "allow_unscoped_eid": True,
                       "display_name": "http://schemas.microsoft.com/identity/claims/displayname",
                       **_MICROSOFT_NAMES},
    },
    "adfs": {
        # AD FS signs the assertion (SamlResponseSignature AssertionOnly) and encrypts it with
        # AES-256-CBC whenever the relying party has an encryption certificate; it answers
        # an exact PasswordProtectedTransport request for a Windows sign-in with Responder.
        "idp": {"want_response_signed": False, "want_assertion_signed": True,
                "want_assertions_encrypted": False, "allow_cbc_encryption": True,
                "want_attribute_statement": True, "requested_authn_context": []},
        "attributes": {"eid": [_CLAIMS + "upn"], "allow_unscoped_eid": True,
                       "display_name": _CLAIMS + "name", **_MICROSOFT_NAMES},
    },
    "okta": {
        # Okta signs Response and assertion; no attribute statements unless configured; the
        # NameID (format unspecified) is the Okta username, an email address.
        "idp": {"want_response_signed": True, "want_assertion_signed": True,
                "want_assertions_encrypted": False, "allow_cbc_encryption": False,
                "want_attribute_statement": False},
        "attributes": {"eid": ["nameid"], "allow_unscoped_eid": True, "given_name": "firstName",
                       "family_name": "lastName", "email": "email",
                       "display_name": "displayName", "affiliation": "groups"},
    },
    "google": {
        # Google Workspace signs the assertion only (unless "Signed response" is ticked), never
        # encrypts, and sends no AttributeStatement without an attribute mapping; the NameID
        # is the primary email.
        "idp": {"want_response_signed": False, "want_assertion_signed": True,
                "want_assertions_encrypted": False, "allow_cbc_encryption": False,
                "want_attribute_statement": False},
        "attributes": {"eid": ["nameid"], "allow_unscoped_eid": True, "given_name": "firstName",
                       "family_name": "lastName", "email": "email",
                       "display_name": "displayName", "affiliation": "groups"},
    },
    "shibboleth": {
        # Shibboleth IdP 4/5 signs the Response and encrypts the assertion (AES-128-GCM,
        # RSA-OAEP); attributes by OID (NameFormat uri); scoped identifiers with shibmd:Scope.
        "idp": {"want_response_signed": True, "want_assertion_signed": False,
                "want_assertions_encrypted": True, "allow_cbc_encryption": False,
                "want_attribute_statement": True},
        "attributes": {"eid": _SCOPED_EID, "allow_unscoped_eid": False},
    },
    "keycloak": {
        # Keycloak signs the Response ("Sign documents"), not the assertion; the NameID is the
        # username (format unspecified); its role list mapper sends one Attribute per role; the
        # "X500" mappers send email, givenName and surname by OID.
        "idp": {"want_response_signed": True, "want_assertion_signed": False,
                "want_assertions_encrypted": False, "allow_cbc_encryption": False,
                "want_attribute_statement": True},
        "attributes": {"eid": ["nameid"], "allow_unscoped_eid": True,
                       "email": "urn:oid:1.2.840.113549.1.9.1", "affiliation": "Role"},
    },
    "simplesamlphp": {
        # SimpleSAMLphp signs the assertion and by default the Response (either can be turned
        # off per SP; the assertion signature is required); it encrypts with AES-128-CBC when
        # assertion.encryption is on; friendly attribute names (NameFormat basic).
        "idp": {"want_response_signed": False, "want_assertion_signed": True,
                "want_assertions_encrypted": False, "allow_cbc_encryption": True,
                "want_attribute_statement": True},
        "attributes": {"eid": _SCOPED_EID, "allow_unscoped_eid": False},
    },
}


def apply(raw: dict[str, Any]) -> dict[str, Any]:
    """Fill the IdP tables of the parsed TOML ``raw`` (in place) with the values of the preset
    each names, for the keys the admin did not write: ``[idp]`` with the top-level
    ``[attributes]``, and each ``[idps.<name>]`` and ``[federations.<name>]`` with its own
    ``attributes`` table. Returns what was filled in, by dotted key. An unknown preset fills
    nothing (the settings reader reports it)."""
    applied = _apply_to(raw.get("idp"), raw, "idp", "attributes")
    for group in ("idps", "federations"):
        tables = raw.get(group)
        if not isinstance(tables, dict):
            continue
        for name, table in tables.items():
            if isinstance(table, dict):
                key = f"{group}.{name}"
                applied |= _apply_to(table, table, key, f"{key}.attributes")
    return applied


def _apply_to(idp: Any, holder: dict[str, Any], idp_key: str,
              attributes_key: str) -> dict[str, Any]:
    """``idp``: the IdP's table; ``holder``: the table holding its ``attributes`` table."""
    name = idp.get("preset", "generic") if isinstance(idp, dict) else "generic"
    preset = PRESETS.get(name) if isinstance(name, str) else None
    applied: dict[str, Any] = {}
    if preset is None or not isinstance(idp, dict):
        return applied
    attributes = holder.setdefault("attributes", {}) if preset["attributes"] else None
    for table, prefix, values in ((idp, idp_key, preset["idp"]),
                                  (attributes, attributes_key, preset["attributes"])):
        if not isinstance(table, dict):
            continue
        for key, value in values.items():
            if key not in table:
                table[key] = value
                applied[f"{prefix}.{key}"] = value
    return applied


def describe(name: str, applied: dict[str, Any]) -> list[str]:
    """``check-config``'s lines about the preset: its name and every value it set."""
    lines = [f"IdP preset: {name}" + ("" if applied else " (sets nothing you did not write)")]
    lines += [f"  {key} = {value!r} (from the preset)" for key, value in applied.items()]
    return lines
