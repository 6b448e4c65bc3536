"""Packages found, not listed: every package under each folder pyproject.toml maps to an import name.

setuptools' own discovery cannot find them: index/ and bot/ install as newsqa.index and newsqa.bot
(`package-dir`), and its finder names a folder's packages after the folder. So each mapped folder is
searched here and its subpackages named under the folder's import name; a new subpackage is in the wheel
without anyone listing it (tests/test_packaging.py builds the wheel and checks).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent


def packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = []
    for name, folder in config["package-dir"].items():
        found.append(name)  # seeds/ has no __init__.py: a data-only package, listed by its mapping
        found += [f"{name}.{sub}" for sub in sorted(find_packages(str(ROOT / folder)))]
    return found


setup(packages=packages())
