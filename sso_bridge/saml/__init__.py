"""SAML core (no Flask): python3-saml in strict mode plus the checks it leaves to us."""
