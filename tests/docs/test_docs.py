"""The docs cannot go stale: links resolve, every configuration key and error code is
documented, and every ``sso-bridge`` command in a bash block parses with the real CLI."""

from __future__ import annotations

import dataclasses
import inspect
import re
import shlex
import typing
from pathlib import Path

import click
import pytest

from sso_bridge import errors
from sso_bridge.cli import EXIT_CONFIG, EXIT_OK, EXIT_PROBLEMS, main
from sso_bridge.demo.configfile import toml_value
from sso_bridge.settings import SECRET_NAMES, Settings
from tests.docs.blocks import ROOT, Block, blocks, markdown_files

DOCS = ROOT / "docs"
# Pages other developers write in their own branches: linked before they land.
PENDING = {"docs/sakai.md", "docs/accounts.md", "docs/learners.md", "docs/sp-metadata.md",
           "docs/idp/README.md", *(f"docs/idp/{p}.md" for p in (
               "entra", "adfs", "okta", "google", "shibboleth", "keycloak", "simplesamlphp"))}
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def relative_links(path: Path) -> list[str]:
    return [t for t in _LINK.findall(path.read_text()) if "://" not in t
            and not t.startswith("mailto:")]


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    for target in relative_links(page):
        resolved = (page.parent / target).resolve()
        name = str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else target
        assert resolved.exists() or name in PENDING, f"{page.name} links to missing {target}"


def test_the_docs_index_links_every_page() -> None:
    index = DOCS / "README.md"
    linked = {(DOCS / t).resolve() for t in relative_links(index)}
    for page in DOCS.rglob("*.md"):
        assert page == index or page.resolve() in linked, f"docs/README.md omits {page.name}"
    readme = {(ROOT / t).resolve() for t in relative_links(ROOT / "README.md")}
    assert index.resolve() in readme


# --- the configuration reference ----------------------------------------------------------


def settings_keys(cls: type = Settings, prefix: str = "") -> dict[str, str]:
    """Every configuration key, with its default as TOML ("required" when it has none)."""
    hints = typing.get_type_hints(cls)
    keys: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        if f.name in ("secrets", "config_dir", "preset_values"):
            continue
        if dataclasses.is_dataclass(hints[f.name]):
            keys.update(settings_keys(hints[f.name], f"{prefix}{f.name}."))
        elif typing.get_origin(hints[f.name]) is dict and \
                dataclasses.is_dataclass(typing.get_args(hints[f.name])[1]):  # [idps.NAME]
            keys.update(settings_keys(typing.get_args(hints[f.name])[1], f"{prefix}{f.name}.NAME."))
        elif f.default is not dataclasses.MISSING:
            keys[prefix + f.name] = toml_value(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            keys[prefix + f.name] = toml_value(f.default_factory())
        else:
            keys[prefix + f.name] = "required"
    return keys


def documented_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    section = ""
    for line in (DOCS / "configuration.md").read_text().splitlines():
        heading = re.match(r"^#+ \[([\w.]+)\]$", line)
        if heading:
            section = heading.group(1)
        row = re.match(r"^\| `(\w+)` \| (required|`(.*?)`) \|", line)
        if row and section:
            keys[f"{section}.{row.group(1)}"] = row.group(3) if row.group(3) is not None \
                else "required"
    return keys


SHARED_TABLES = {"idps.NAME.": "idp.", "federations.NAME.": "idp.",
                 "idps.NAME.attributes.": "attributes.",
                 "federations.NAME.attributes.": "attributes."}
"""A key of these tables that ``[idp]`` (or ``[attributes]``) has too is documented there."""


def _unshared(keys: dict[str, str]) -> dict[str, str]:
    def shared(key: str) -> bool:
        return any(key.startswith(table) and own + key.removeprefix(table) in keys
                   for table, own in SHARED_TABLES.items())

    return {k: v for k, v in keys.items() if not shared(k)}


def test_the_configuration_reference_documents_every_key_with_its_default() -> None:
    actual, documented = _unshared(settings_keys()), documented_keys()
    assert sorted(set(actual) - set(documented)) == [], "keys missing in docs/configuration.md"
    assert sorted(set(documented) - set(actual)) == [], "docs/configuration.md names no-keys"
    wrong = {k: (documented[k], v) for k, v in actual.items()
             if documented[k].replace(", ", ",") != v.replace(", ", ",")}
    assert wrong == {}, "documented default differs from settings.py: (docs, code)"


def test_the_configuration_reference_names_every_secret() -> None:
    text = (DOCS / "configuration.md").read_text()
    for variable in SECRET_NAMES.values():
        assert f"| `{variable}` |" in text


# --- error codes ------------------------------------------------------------------------------


def test_troubleshooting_covers_every_error_code() -> None:
    codes = {cls.code for _, cls in inspect.getmembers(errors, inspect.isclass)
             if issubclass(cls, errors.BridgeError)}
    rows = set(re.findall(r"^\| `([a-z_]+)` \|", (DOCS / "troubleshooting.md").read_text(),
                          re.M))
    assert sorted(codes - rows) == [], "error codes missing in docs/troubleshooting.md"
    assert sorted(rows - codes) == [], "docs/troubleshooting.md lists codes that do not exist"


def test_the_documented_exit_status_is_the_commands() -> None:
    table = dict(re.findall(r"^\| `(\d)` \| (.*?) \|$", (DOCS / "cli.md").read_text(), re.M))
    epilog = " ".join((main.commands["check-config"].epilog or "").split())
    for code in (EXIT_OK, EXIT_PROBLEMS, EXIT_CONFIG):
        meaning = table[str(code)].split(" (")[0]
        assert f"{code} {meaning}" in epilog, (code, meaning, epilog)


# --- commands ---------------------------------------------------------------------------------

SHELL_BLOCKS = {"bash", "sh", "shell"}
# Programs the docs may use besides sso-bridge; what can be checked of them is, below.
KNOWN = {"install", "head", "base64", "printf", "chmod", "chown", "cat", "cp", "mv", "ln",
         "set", ".", "read", "export", "curl", "apt-get", "python3", "python", "pip", "useradd",
         "systemctl", "journalctl", "docker", "podman", "bash", "sh", "sso-bridge", "git",
         "openssl", "xmllint", "xmlsec1", "grep", "sed", "awk", "jq", "tee", "mkdir", "rm",
         "ls", "echo", "date", "sha256sum", "tar", "redis-cli", "nginx", "apache2ctl",
         "a2enmod", "a2enconf", "pybabel"}
_OPERATORS = {"&&", "||", ";", "|", "&"}
_REDIRECTS = {">", ">>", "<", "2>", "2>&1"}


def shell_blocks() -> list[Block]:
    return [b for page in markdown_files() for b in blocks(page) if b.lang in SHELL_BLOCKS]


def command_lines(block: Block) -> list[str]:
    """Logical lines (continuations joined), without heredoc bodies and comments."""
    lines, heredoc = [], None
    for line in block.body.replace("\\\n", " ").splitlines():
        if heredoc:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        marker = re.search(r"<<-?\s*'?(\w+)'?", line)
        heredoc = marker.group(1) if marker else None
        line = re.sub(r"<<-?\s*'?\w+'?", "", line).split(" # ")[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def simple_commands(line: str) -> list[list[str]]:
    """The words of each simple command of a line: split at operators (quotes respected),
    redirections, sudo and its options, env and assignments dropped; sh -c scripts opened."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    tokens = iter(lexer)
    for token in tokens:
        if token in _OPERATORS:
            commands.append([])
        elif token in _REDIRECTS or token.startswith((">", "<")):
            next(tokens, None)
        else:
            commands[-1].append(token)
    out = []
    for words in commands:
        while words:
            if words[0] == "sudo":
                words = words[1:]
                while words and words[0].startswith("-"):
                    words = words[2:] if words[0] in ("-u", "-g") else words[1:]
            elif words[0] == "env" or re.match(r"^[A-Z_]+=", words[0]):
                words = words[1:]
            else:
                break
        if words and Path(words[0]).name in ("sh", "bash") and words[1:2] == ["-c"]:
            out.extend(simple_commands(words[2]))
        elif words:
            out.append(words)
    return out


def program(words: list[str]) -> str:
    return words[0] if words[0] == "." else Path(words[0]).name


@pytest.mark.parametrize("block", shell_blocks(), ids=str)
def test_every_sso_bridge_command_in_the_docs_parses(block: Block) -> None:
    for line in command_lines(block):
        for words in simple_commands(line):
            if program(words) != "sso-bridge":
                continue
            args = words[1:]
            assert args, f"{block}: bare sso-bridge"
            command = main.commands.get(args[0])
            assert command is not None, f"{block}: no command sso-bridge {args[0]}"
            try:
                command.make_context(args[0], args[1:], resilient_parsing=False)
            except click.ClickException as exc:
                pytest.fail(f"{block}: sso-bridge {' '.join(args)}: {exc.format_message()}")


@pytest.mark.parametrize("block", shell_blocks(), ids=str)
def test_every_other_command_in_the_docs_is_known_and_names_real_files(block: Block) -> None:
    for line in command_lines(block):
        for words in simple_commands(line):
            name = program(words)
            assert name in KNOWN, f"{block}: unchecked program {words[0]} in: {line}"
            if name == "bash":
                assert (ROOT / words[1]).exists(), f"{block}: no script {words[1]}"
            if name in ("docker", "podman") and "-f" in words:
                assert (ROOT / words[words.index("-f") + 1]).exists(), f"{block}: {line}"
            if name == "curl":  # a URL of the bridge (under /sso) must be one of its routes
                url = next(w for w in words[1:] if "://" in w)
                if "/sso/" in url:
                    assert re.search(r"/sso/(saml/(metadata|login)|healthz|readyz|metrics)$",
                                     url), f"{block}: no such route: {url}"
            if name == "python" and words[0].startswith(".venv/"):
                assert words[1:3] == ["-m", "pytest"] or (ROOT / words[1]).exists(), line
            if name == "pip" and "-r" in words:
                assert Path(words[words.index("-r") + 1]).name in ("requirements.lock",
                                                                   "requirements-test.lock")
