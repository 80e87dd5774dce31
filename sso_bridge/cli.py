"""``sso-bridge``: serve, demo, keygen, check-config, metadata."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.settings import Settings, load_settings

CONFIG_OPTION = click.option(
    "--config", "config_path", envvar="SSO_BRIDGE_CONFIG", type=click.Path(dir_okay=False),
    help="The TOML configuration file (default: $SSO_BRIDGE_CONFIG).")


@click.group()
@click.version_option(package_name="sso-bridge")
def main() -> None:
    """A hardened SAML single sign-on bridge into Sakai."""


def _settings(config_path: str | None) -> Settings:
    try:
        return load_settings(config_path)
    except ConfigError as exc:
        _report(exc.problems)
        sys.exit(2)


def _report(problems: list[str]) -> None:
    click.echo(f"configuration has {len(problems)} problem(s):", err=True)
    for problem in problems:
        click.echo(f"  - {problem}", err=True)


@main.command("check-config")
@CONFIG_OPTION
def check_config(config_path: str | None) -> None:
    """Load and validate configuration, keys and IdP metadata; report every problem."""
    from sso_bridge.services import build_services
    from sso_bridge.web.branding import Branding

    settings = _settings(config_path)
    problems = []
    try:
        services = build_services(settings)
    except ConfigError as exc:
        problems.extend(exc.problems)
    try:
        Branding(settings.path(settings.bridge.branding_dir)
                 if settings.bridge.branding_dir else None)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        _report(problems)
        sys.exit(1)
    for warning in services.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"configuration OK: IdP {services.idp.entity_id}, SP {settings.sp_entity_id}, "
               f"certificate valid for {services.credentials.days_to_expiry:.0f} more days")
    if settings.idp.metadata_signing_certificate:
        click.echo(f"IdP metadata signature verified with "
                   f"{settings.idp.metadata_signing_certificate}")
    from sso_bridge.web.i18n import shipped_languages

    click.echo("learner pages in: " + ", ".join(f"{lang.code} ({lang.name})"
                                                for lang in shipped_languages()))
    if services.next_credentials is not None:
        click.echo(f"SP key rollover in progress: the next certificate "
                   f"{settings.sp.next_certificate_file} (valid for "
                   f"{services.next_credentials.days_to_expiry:.0f} more days) is published "
                   "with the current one, and both keys decrypt")


@main.command()
@CONFIG_OPTION
def metadata(config_path: str | None) -> None:
    """Print the SP metadata to register with the IdP or federation."""
    from sso_bridge.services import build_services

    settings = _settings(config_path)
    try:
        click.echo(build_services(settings).sp.metadata())
    except ConfigError as exc:
        _report(exc.problems)
        sys.exit(1)


@main.command()
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the private key (PEM, mode 0600).")
@click.option("--cert", "cert_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the self-signed certificate (PEM).")
@click.option("--common-name", "--cn", "common_name", required=True,
              help="Subject CN, usually the bridge's host name.")
@click.option("--organization", default="", help="Subject O (optional).")
@click.option("--bits", default=3072, show_default=True, type=click.IntRange(2048, 8192))
@click.option("--days", default=730, show_default=True, type=click.IntRange(1, 3650))
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def keygen(key_path: str, cert_path: str, common_name: str, organization: str, bits: int,
           days: int, force: bool) -> None:
    """Create the SP signing/encryption key and a self-signed certificate."""
    from sso_bridge.keys import generate

    try:
        generate(Path(key_path), Path(cert_path), common_name=common_name, bits=bits,
                 days=days, organization=organization, force=force)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {key_path} (RSA {bits}) and {cert_path} (valid {days} days)")


@main.command()
@CONFIG_OPTION
@click.option("--dev", is_flag=True, help="Flask's development server instead of gunicorn.")
@click.option("--bind", default=None, help="host:port (default: server.bind).")
@click.option("--workers", default=None, type=int, help="Worker processes (server.workers).")
def serve(config_path: str | None, dev: bool, bind: str | None, workers: int | None) -> None:
    """Run the bridge (gunicorn in production)."""
    settings = _settings(config_path)
    if not dev:
        from sso_bridge.server import prepare_metrics_dir

        prepare_metrics_dir()  # before the metrics module is first imported
    from sso_bridge.app import create_app

    try:
        app = create_app(settings)
    except BridgeError as exc:
        _report(getattr(exc, "problems", [exc.detail]))
        sys.exit(1)
    bind = bind or settings.server.bind
    if dev:
        host, _, port = bind.rpartition(":")
        app.run(host=host or "127.0.0.1", port=int(port), threaded=True)
        return
    from sso_bridge.server import run_gunicorn

    run_gunicorn(app, settings, bind=bind, workers=workers)


@main.command()
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Where the demo keeps its generated files (default: a temporary folder).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--bridge-port", default=8000, show_default=True)
@click.option("--idp-port", default=8080, show_default=True)
@click.option("--sakai-port", default=8090, show_default=True)
def demo(workdir: str | None, host: str, bridge_port: int, idp_port: int,
         sakai_port: int) -> None:
    """Start a real IdP, the Sakai simulator and the bridge on loopback, until Ctrl-C."""
    from sso_bridge.demo.stack import run_demo

    run_demo(workdir, host=host, ports={"bridge": bridge_port, "idp": idp_port,
                                        "sakai": sakai_port})


if __name__ == "__main__":
    main()
