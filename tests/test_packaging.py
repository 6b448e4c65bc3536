"""The wheel carries every package and the seed articles: setup.py finds the packages under each folder
pyproject maps (index/ and bot/ install as newsqa.index and newsqa.bot), so a new subpackage that the
wheel lacks must fail here, not in a user's `pip install .`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def roots() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> tuple[zipfile.ZipFile, str]:
    """The wheel and the build's output, built from a copy of the sources (a checkout's stale build/
    folder would hide a missing package)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source)
    for folder in roots().values():
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--verbose", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*pip_wheel, "-w", out, source],
        check=True,
        capture_output=True,
        text=True,
    )
    (built,) = out.glob("newsqa-*.whl")
    return zipfile.ZipFile(built), done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(build: tuple[zipfile.ZipFile, str]) -> zipfile.ZipFile:
    return build[0]


def package_folders() -> dict[str, Path]:
    """Import name -> folder, for every folder under a mapped root that holds an `__init__.py`."""
    found = {}
    for name, folder in roots().items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found[".".join([name, *rel.parts])] = init.parent
    return found


def test_every_package_folder_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    in_wheel = {n.removesuffix("/__init__.py").replace("/", ".") for n in names if n.endswith("/__init__.py")}
    folders = package_folders()
    assert {"newsqa.index.search", "newsqa.bot", "newsqa.evaluation"} <= set(folders)
    assert set(folders) <= in_wheel, f"packages missing from the wheel: {sorted(set(folders) - in_wheel)}"
    for name, folder in folders.items():  # and every module in them
        for module in folder.glob("*.py"):
            assert f"{name.replace('.', '/')}/{module.name}" in names


def test_the_seed_articles_are_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    seeds = {p.name for p in (ROOT / "seeds").iterdir() if p.suffix in (".txt", ".md", ".html", ".json")}
    assert seeds
    assert seeds <= {Path(n).name for n in wheel.namelist() if n.startswith("newsqa/seeds/")}


def test_newsqas_own_models_are_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    """newsqa answers with its own question model by default, and its index model on request: a wheel
    without their weights could not."""
    shipped = {p.name for p in (ROOT / "index" / "models" / "weights").iterdir()}
    assert {n for n in shipped if n.endswith(".safetensors")} and {n for n in shipped if n.endswith(".json")}
    assert shipped <= {Path(n).name for n in wheel.namelist() if n.startswith("newsqa/index/models/weights/")}


def _requires(wheel: zipfile.ZipFile) -> list[str]:
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    lines = wheel.read(metadata).decode().splitlines()
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]


def test_the_wheel_pins_no_build_of_torch(wheel: zipfile.ZipFile) -> None:
    """This machine's CPU build is pinned where the Makefile installs (constraints.txt), not for users."""
    (torch,) = [r for r in _requires(wheel) if r.startswith("torch")]
    assert "==" not in torch and ">=" in torch
    assert "torch==" in (ROOT / "constraints.txt").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert makefile.count("-c constraints.txt") >= 2 and "torch==" not in makefile


def test_the_licence_is_an_spdx_expression_and_builds_without_deprecation(
    build: tuple[zipfile.ZipFile, str],
) -> None:
    wheel, log = build
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    assert "License-Expression: Apache-2.0" in wheel.read(metadata).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel.namelist())
    assert "SetuptoolsDeprecationWarning" not in log and "project.license" not in log, log
