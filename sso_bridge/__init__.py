"""sso-bridge: a hardened SAML 2.0 service provider that signs learners into Sakai."""

__version__ = "0.1.0"
