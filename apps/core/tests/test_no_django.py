"""Every core module imports, in a fresh interpreter where Django cannot be imported at all."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import apps.core

ROOT = Path(__file__).resolve().parents[3]

BLOCKER = """
import importlib.abc, sys

class NoDjango(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in {"django", "django_tenants", "django_q", "django_htmx"} or (
            name.startswith("apps.") and not name.startswith("apps.core")
        ):
            raise ImportError(f"a core imported {name}")
        return None

sys.meta_path.insert(0, NoDjango())
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
print("ok", len(sys.argv) - 1)
"""


def core_modules() -> list[str]:
    walk = pkgutil.walk_packages(apps.core.__path__, "apps.core.")
    return [info.name for info in walk if ".tests" not in info.name]


def test_there_are_cores_to_check() -> None:
    names = core_modules()
    for expected in ("apps.core.logparse.parser", "apps.core.rules.engine", "apps.core.vocabulary"):
        assert expected in names


def test_no_core_imports_django_or_an_app_above_it() -> None:
    names = core_modules()
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER, *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"ok {len(names)}"


def test_the_blocker_catches_a_django_import() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER, "django.conf"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode != 0
    assert "a core imported django" in result.stderr
