"""The Dockerfile and the README name files and commands that exist (docker cannot run here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_dockerfile_copies_files_that_exist() -> None:
    for line in dockerfile().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_dockerfile_installs_the_same_pins_as_ci() -> None:
    text = dockerfile()
    assert "pip install -r requirements.lock" in text
    assert "-r requirements.lock" in (ROOT / "requirements-test.lock").read_text()
    pins = (ROOT / "requirements.lock").read_text()
    for pin in ("python3-saml==1.16.0", "lxml==6.1.3", "xmlsec==1.3.17"):
        assert pin in pins


def test_dockerfile_runs_serve_as_non_root_with_a_healthcheck() -> None:
    text = dockerfile()
    assert re.search(r"^USER bridge$", text, re.M)
    # The health check and the server follow server.bind: no port is fixed in the image.
    assert 'CMD ["sso-bridge", "healthcheck"]' in text
    cmd = re.search(r'^CMD \[(.*)\]$', text, re.M)
    assert cmd and cmd.group(1) == '"sso-bridge", "serve"'
    assert "8000/healthz" not in text and "--bind" not in text.split("FROM", 1)[1]
    assert "SSO_BRIDGE_SP_KEY" not in text.split("FROM", 1)[1].split("ENV", 1)[0]


def test_the_image_leaves_out_the_demo_tests_and_keys() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in ("sso_bridge/demo", "tests", "bench", "certs", "*.key"):
        assert path in ignored


def test_the_console_script_the_image_runs_exists() -> None:
    out = subprocess.run([sys.executable, "-m", "sso_bridge.cli", "serve", "--help"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    assert "--bind" in out.stdout


def test_readme_starts_with_the_two_commands_ci_uses() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", readme, re.S)
    assert "scripts/setup.sh" in blocks[0] and "sso-bridge demo" in blocks[0]
    assert "scripts/setup.sh" in blocks[1] and "pytest" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = blocks[1].strip().splitlines()[-1].split("&&")[-1].strip()
    assert test_command in ci


def test_certs_folder_is_documented_and_keys_stay_out_of_git() -> None:
    readme = ROOT / "certs" / "README.md"
    assert "Private keys never go here" in readme.read_text()
    tracked = subprocess.run(["git", "ls-files", "certs"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert tracked == ["certs/README.md"]
    ignored = subprocess.run(["git", "check-ignore", "certs/sp.key", "certs/sp.pem",
                              "certs/sp.crt", "certs/README.md"], cwd=ROOT,
                             capture_output=True, text=True).stdout.split()
    assert ignored == ["certs/sp.key", "certs/sp.pem", "certs/sp.crt"]


def test_the_installed_package_has_its_data_and_no_demo(tmp_path: Path) -> None:
    """`pip install .` (Debian, the image) leaves out the demo and keeps every data file."""
    import shutil
    import zipfile

    source = tmp_path / "src"  # a copy, egg-info included: pip builds in the tree it gets
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "test-artifacts", "__pycache__", ".*_cache"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(source),
                            "-w", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("sso_bridge-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [n for n in names if n.startswith("sso_bridge/demo/")]
    package = ROOT / "sso_bridge"
    for path in package.rglob("*"):
        relative = path.relative_to(ROOT).as_posix()
        if path.is_file() and "__pycache__" not in relative \
                and not relative.startswith("sso_bridge/demo/"):
            assert relative in names, f"the wheel lacks {relative}"
