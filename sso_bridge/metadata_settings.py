"""The settings of what the SP metadata says beyond keys and endpoints: ``[metadata]``
(organisation, contacts, mdui, entity attributes; used by ``saml/sp_metadata.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ContactSection:
    """One ContactPerson of the SP metadata; a role, not a person, ages best."""

    name: str = ""
    """GivenName, e.g. "LMS operations"."""
    email: str = ""
    """EmailAddress (published as mailto:)."""


@dataclass(frozen=True)
class ContactsSection:
    technical: ContactSection = field(default_factory=ContactSection)
    administrative: ContactSection = field(default_factory=ContactSection)
    support: ContactSection = field(default_factory=ContactSection)
    security: ContactSection = field(default_factory=ContactSection)
    """Published as a REFEDS security contact (an ``other`` contact, remd:contactType)."""


@dataclass(frozen=True)
class OrganizationSection:
    """md:Organization; each value per language (``{ en = "...", de = "..." }``)."""

    name: dict[str, str] = field(default_factory=dict)
    display_name: dict[str, str] = field(default_factory=dict)
    url: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LogoSection:
    url: str = ""
    width: int = 0
    height: int = 0
    lang: str = ""
    """Empty: a logo for every language."""


@dataclass(frozen=True)
class UiSection:
    """mdui:UIInfo, what IdPs and discovery services show; each value per language."""

    display_name: dict[str, str] = field(default_factory=dict)
    description: dict[str, str] = field(default_factory=dict)
    information_url: dict[str, str] = field(default_factory=dict)
    privacy_statement_url: dict[str, str] = field(default_factory=dict)
    logo: LogoSection = field(default_factory=LogoSection)


@dataclass(frozen=True)
class MetadataSection:
    """What the SP metadata says beyond keys and endpoints (``saml/sp_metadata.py``)."""

    publish_encryption_key: bool = True
    """Offer the SP key for encryption too (Shibboleth IdP fails the login without one)."""
    organization: OrganizationSection = field(default_factory=OrganizationSection)
    contacts: ContactsSection = field(default_factory=ContactsSection)
    ui: UiSection = field(default_factory=UiSection)
    entity_attributes: dict[str, list[str]] = field(default_factory=dict)
    """mdattr:EntityAttributes: attribute name → values (entity categories, SIRTFI)."""
