"""The one module-level app, for WSGI servers: ``gunicorn sso_bridge.wsgi:app``.

The configuration file comes from ``SSO_BRIDGE_CONFIG``; secrets from the environment.
"""

from sso_bridge.app import create_app
from sso_bridge.settings import load_settings

app = create_app(load_settings())
