"""Shared test helpers."""

from sso_bridge.demo.configfile import merge, to_toml, write_config

__all__ = ["merge", "to_toml", "write_config"]
