"""The ladder of apps, checked: the import contract holds, covers every app, and modules stay
small enough to read. (`make lint` runs the same contract.)"""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
APPS = ROOT / "apps"
MAX_MODULE_LINES = 500


def ladder() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    layers = config["importlinter:contract:ladder"]["layers"].split()
    return [name.strip("()") for name in layers if name != "|"]


def test_every_app_has_a_rung_on_the_ladder() -> None:
    apps = {f"apps.{p.parent.name}" for p in APPS.glob("*/apps.py")} | {"apps.core"}
    assert apps - set(ladder()) == set(), "add the new app to .importlinter's ladder"


def test_the_import_contract_holds() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert re.search(r"Contracts: \d+ kept, 0 broken", result.stdout), result.stdout[-2000:]


def product_modules() -> list[Path]:
    return [
        p
        for p in APPS.rglob("*.py")
        if not {"tests", "migrations"} & set(p.relative_to(APPS).parts)
    ]


def test_no_product_module_is_over_the_size_budget() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in product_modules()}
    assert len(sizes) > 100
    over = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert over == {}, f"split these where a reader would (budget {MAX_MODULE_LINES} lines)"


def test_the_cores_type_check() -> None:
    """`make lint` runs mypy over the cores ([tool.mypy] in pyproject.toml); CI runs this."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Success: no issues found" in result.stdout


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")], ids=str)
def test_the_code_passes_ruff(args: tuple[str, ...]) -> None:
    """`make lint`'s ruff check and format check; CI runs this, so a lint slip turns it red."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
