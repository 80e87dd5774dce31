"""The one module-level app, for other WSGI servers (``sso-bridge serve`` builds its own).

The configuration file comes from ``SSO_BRIDGE_CONFIG``; secrets from the environment.
"""

from sso_bridge.app import create_app
from sso_bridge.settings import load_settings

app = create_app(load_settings())
