"""House rules that a test can hold: layering, lint, types."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sso_bridge"
FLASK_FREE = ["saml", "sakai", "store", "provisioning.py", "settings.py", "identity.py",
              "errors.py", "keys.py", "deps.py"]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("part", FLASK_FREE)
def test_the_core_never_imports_flask(part: str) -> None:
    target = PACKAGE / part
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    for path in files:
        assert not imported_modules(path) & {"flask", "werkzeug"}, path


def test_only_saml_imports_onelogin() -> None:
    for path in PACKAGE.rglob("*.py"):
        if "onelogin" in imported_modules(path):
            assert path.parent.name == "saml", path


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed in this environment")
    result = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_mypy_is_clean() -> None:
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent))
    if mypy is None:
        pytest.skip("mypy is not installed in this environment")
    checked = [str(PACKAGE), str(ROOT / "tests"), str(ROOT / "bench")]
    result = subprocess.run([mypy, *checked], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout
