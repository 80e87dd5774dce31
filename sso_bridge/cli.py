"""``sso-bridge``: serve, demo, keygen, check-config, idps, metadata, healthcheck."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.settings import Settings, load_settings

if TYPE_CHECKING:
    from sso_bridge.services import Services

EXIT_OK, EXIT_PROBLEMS, EXIT_CONFIG = 0, 1, 2
"""check-config (and serve, metadata): usable; a check found a problem (keys, certificates,
IdP metadata); the configuration file or a secret is wrong (docs/cli.md)."""

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
        sys.exit(EXIT_CONFIG)


def _report(problems: list[str]) -> None:
    click.echo(f"configuration has {len(problems)} problem(s):", err=True)
    for problem in problems:
        click.echo(f"  - {problem}", err=True)


@main.command("check-config", epilog="Exit status: 0 usable (warnings may be printed), "
              "1 a check found a problem (keys, certificates, IdP metadata), 2 the "
              "configuration file or a secret is wrong.")
@CONFIG_OPTION
@click.option("--offline", is_flag=True,
              help="Do not talk to Sakai (by default the hand-over to Sakai is proven).")
def check_config(config_path: str | None, offline: bool) -> None:
    """Load and validate configuration, keys and IdP metadata, and (unless --offline) prove
    that Sakai accepts a session the bridge mints; report every problem."""
    from sso_bridge.config_check import run_checks
    from sso_bridge.services import build_services

    settings = _settings(config_path)
    try:
        services = build_services(settings)
    except ConfigError as exc:
        _report(exc.problems)
        sys.exit(EXIT_PROBLEMS)
    findings = run_checks(settings, services, online=not offline)
    for finding in findings:
        if finding.level != "problem":  # problems are listed together below
            click.echo(f"{finding.level}: {finding.text}", err=finding.level != "ok")
    problems = [f.text for f in findings if f.level == "problem"]
    if problems:
        _report(problems)
        sys.exit(EXIT_PROBLEMS)
    configured = services.sp.configured()
    trusted = f"IdP {configured[0].entity_id}" if len(configured) == 1 and not \
        settings.federations else (f"{len(configured)} IdPs and {len(settings.federations)} "
                                   "federations")
    click.echo(f"configuration OK: {trusted}, SP {settings.sp_entity_id}, "
               f"certificate valid for {services.credentials.days_to_expiry:.0f} more days")


@main.command(epilog="Exit status: 0 no problem, 1 a problem (each listed), 2 the "
              "configuration file or a secret is wrong.")
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of lines.")
@click.option("--all", "members", is_flag=True,
              help="Also list each federation's admitted IdPs (entityID, display name).")
def idps(config_path: str | None, as_json: bool, members: bool) -> None:
    """List the trusted IdPs and federations: source, signing-certificate expiry, last load
    or refresh, and any problem."""
    import json

    from sso_bridge import idps_report
    from sso_bridge.services import build_services

    settings = _settings(config_path)
    try:
        found = idps_report.report(build_services(settings), members=members)
    except ConfigError as exc:
        _report(exc.problems)
        sys.exit(EXIT_PROBLEMS)
    if as_json:
        click.echo(json.dumps(idps_report.as_json(found), indent=2, ensure_ascii=False))
    else:
        for line in idps_report.lines(found):
            click.echo(line)
    if found.problems:
        sys.exit(EXIT_PROBLEMS)


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
        sys.exit(EXIT_PROBLEMS)


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
@click.option("--dev", is_flag=True, help="Flask's development server instead of granian.")
@click.option("--bind", default=None, help="host:port (default: server.bind).")
@click.option("--workers", default=None, type=int, help="Worker processes (server.workers).")
def serve(config_path: str | None, dev: bool, bind: str | None, workers: int | None) -> None:
    """Run the bridge (granian in production)."""
    settings = _settings(config_path)
    if not dev:
        from sso_bridge.server import prepare_metrics_dir

        prepare_metrics_dir()  # before the metrics module is first imported
    from sso_bridge.app import create_app

    try:
        app = create_app(settings)
    except BridgeError as exc:
        _report(getattr(exc, "problems", [exc.detail]))
        sys.exit(EXIT_PROBLEMS)
    _warn_at_start(settings, app.extensions["sso_bridge"])
    bind = bind or os.environ.get("SSO_BRIDGE_BIND") or settings.server.bind
    if dev:
        host, _, port = bind.rpartition(":")
        app.run(host=host or "127.0.0.1", port=int(port), threaded=True)
        return
    from sso_bridge.server import run_granian

    try:
        run_granian(app, settings, bind=bind, workers=workers)
    except ConfigError as exc:
        _report(exc.problems)
        sys.exit(2)


def _warn_at_start(settings: Settings, services: Services) -> None:
    """What check-config would warn about (an expired certificate included) is said at start."""
    from sso_bridge.config_check import run_checks

    for finding in run_checks(settings, services):
        if finding.level != "ok":
            click.echo(f"warning: {finding.text}", err=True)


@main.command()
@CONFIG_OPTION
@click.option("--timeout", default=3.0, show_default=True, help="Seconds to wait for an answer.")
def healthcheck(config_path: str | None, timeout: float) -> None:
    """Exit 0 if the local bridge answers /healthz (the container's HEALTHCHECK).

    The address is the one serve listens on: $SSO_BRIDGE_BIND, else server.bind; a wildcard
    host (0.0.0.0, ::) is asked on loopback. Only the file's [server] and [bridge] tables are
    read, so no secret is needed.
    """
    from sso_bridge.healthcheck import probe

    try:
        url = probe(config_path, os.environ.get("SSO_BRIDGE_BIND"), timeout)
    except OSError as exc:
        click.echo(f"unhealthy: {exc}", err=True)
        sys.exit(1)
    click.echo(f"healthy: {url}")


@main.command()
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Where the demo keeps its generated files (default: a temporary folder).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--bridge-port", default=8000, show_default=True)
@click.option("--idp-port", default=8080, show_default=True,
              help="The University's IdP.")
@click.option("--partner-idp-port", default=8081, show_default=True,
              help="The Partner organisation's IdP.")
@click.option("--sakai-port", default=8090, show_default=True)
def demo(workdir: str | None, host: str, bridge_port: int, idp_port: int,
         partner_idp_port: int, sakai_port: int) -> None:
    """Start two real IdPs, the Sakai simulator and the bridge on loopback, until Ctrl-C."""
    try:
        from sso_bridge.demo.stack import run_demo
    except ImportError as exc:  # the production image leaves the demo out (design rule 15)
        raise click.ClickException("the demo is not part of this installation: run it from "
                                   "a source checkout (docs/install.md)") from exc

    run_demo(workdir, host=host, ports={"bridge": bridge_port, "idp": idp_port,
                                        "partner_idp": partner_idp_port,
                                        "sakai": sakai_port})


if __name__ == "__main__":
    main()
