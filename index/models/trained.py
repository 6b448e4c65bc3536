"""What newsqa's own trained models share: a manifest beside fp16 weights, read by name or by path, and
the weights checked against the manifest's sha256 before they are used (question_encoder.py,
answer_model.py). A damaged or missing file is one line naming the fix, never a different model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .modelparts import InstallError, file_sha256

#: Where the shipped models' manifests and weights live, inside the package.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def read_manifest(kind: str, name: str, folder: Path) -> tuple[str, Path, dict[str, Any]]:
    """(name, folder, manifest) of the model `name` in `folder`, or of the manifest file `name` names (a
    model just trained, before it ships: `--question-model path/to/model.json`)."""
    if name.endswith(".json"):
        path = Path(name)
        folder, name = path.parent, path.stem
    else:
        path = folder / f"{name}.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InstallError(f"{kind} {name!r}: cannot read {path} ({e})") from None
    if not isinstance(meta, dict) or "weights" not in meta or "sha256" not in meta:
        raise InstallError(f"{kind} {name!r}: {path} is not a model manifest (no weights or sha256)")
    return name, folder, meta


def checked_tensors(kind: str, name: str, weights: Path, sha256: str, *, off: str) -> dict[str, Any]:
    """The tensors of `weights`, as float32, once their sha256 matches the manifest's; `off` is the flag
    that runs without the model (named in the message)."""
    try:
        digest = file_sha256(weights)
    except OSError as e:
        raise InstallError(f"{kind} {name!r}: cannot read {weights} ({e.strerror})") from None
    if digest != sha256:
        raise InstallError(
            f"{kind} {name!r}: {weights.name} is damaged (sha256 {digest[:12]}..., "
            f"expected {sha256[:12]}...): reinstall newsqa, or run with {off}"
        )
    from safetensors.torch import load_file

    return {k: v.float() for k, v in load_file(str(weights)).items()}


#: all-MiniLM-L6-v2 tensors the trained models never change: read from the installed package.
FROZEN = frozenset({"embeddings.word_embeddings.weight"})


def overlay_minilm(model: Any, state: dict[str, Any], kind: str, name: str) -> None:
    """Put trained tensors into a loaded all-MiniLM-L6-v2 (a SentenceTransformer); one line if they do not
    fit its layers."""
    bert = model[0].auto_model
    missing, unexpected = bert.load_state_dict(state, strict=False)
    if unexpected or set(missing) - FROZEN:
        raise InstallError(f"{kind} {name!r} does not fit all-MiniLM-L6-v2's layers")
