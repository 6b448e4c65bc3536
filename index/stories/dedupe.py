"""Spotting the same story twice: URL normalisation, exact fingerprints and MinHash near-duplicates.

Wire stories reach us from several outlets and under several URLs (tracking parameters, syndicated copies
with their own byline and intro). Answers should cite one copy, so the caller checks new articles here
before indexing them. Everything is pure and deterministic: the same text gives the same signature in any
process, so signatures stored with the articles stay valid across restarts.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

# --------------------------------------------------------------------------------------------- URLs

#: Query parameters that only say how the reader arrived, never which page it is.
TRACKING_PARAMS = frozenset(
    """fbclid gclid gclsrc dclid msclkid yclid igshid twclid mc_cid mc_eid _ga _gl _hsenc _hsmi mkt_tok
    ocid cmpid cmp icid smid sr_share ref ref_src ref_url rss at_medium at_campaign at_custom1 at_custom2
    at_custom3 at_custom4 s_cid wt.mc_id spm ito""".split()
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "ga_")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    key = name.lower()
    return key in TRACKING_PARAMS or key.startswith(_TRACKING_PREFIXES)


def normalize_url(url: str) -> str:
    """One spelling per page, so the same story under a tracking link or `:443` maps to one key.

    Lower-cases scheme and host, drops the fragment, default ports, tracking parameters and a trailing
    slash (the root keeps its "/"), and sorts the remaining query parameters. Anything unparseable is
    returned stripped but otherwise as given: a key that is slightly too specific is harmless.
    """
    raw = url.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return raw
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if not scheme or not host:
        return raw
    netloc = host if ":" not in host else f"[{host}]"  # hostname drops an IPv6 literal's brackets
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k))
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


# ---------------------------------------------------------------------------------------- exact text

_WS = re.compile(r"\s+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def text_fingerprint(text: str) -> str:
    """A digest equal for texts that differ only in whitespace, case or Unicode spelling (NFKC)."""
    canonical = _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


# ------------------------------------------------------------------------------------------- MinHash

_PRIME = np.uint64(4294967291)  # the largest prime below 2**32: a*x + b stays inside uint64


def word_shingles(text: str, size: int = 2) -> set[str]:
    """Overlapping runs of `size` words: the unit of resemblance (short texts give one shingle)."""
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    if not words:
        return set()
    if len(words) <= size:
        return {" ".join(words)}
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def _shingle_hashes(shingles: set[str]) -> np.ndarray:
    # blake2b rather than hash(): Python's string hash changes between processes.
    values = [
        int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=4).digest(), "little") for s in shingles
    ]
    return np.fromiter(values, dtype=np.uint64, count=len(values)) % _PRIME


def _grown(array: np.ndarray, rows: int) -> np.ndarray:
    out = np.zeros((rows, *array.shape[1:]), dtype=array.dtype)
    out[: len(array)] = array
    return out


class NearDupIndex:
    """MinHash signatures with LSH banding: find documents whose word-shingle Jaccard is high.

    Shingles are word pairs: a wire story re-run with its own byline and a reworded first paragraph keeps
    ~85-90% of its pairs, a different story shares ~2%. (Triples drop a rewritten-intro copy of a 300-word
    story to ~0.75, under the usual 0.8 threshold; single words make same-topic stories look alike.)

    Each document gets `num_perm` minimum hashes; two documents agree on each with probability equal to
    their Jaccard similarity, so the fraction of agreeing positions estimates it (standard error ~0.03 at
    128). The signature is cut into `bands` bands of `num_perm // bands` rows; documents that agree on a
    whole band become candidates, and only candidates are compared. With the defaults (32 bands of 4) a
    pair at 0.8 is a candidate with probability > 0.99999, one at 0.2 in ~5% of cases (then dropped by the
    full-signature comparison) and an unrelated pair (~0.02) practically never.

    Buckets are sorted numpy arrays (binary search) plus a small unsorted tail of recent additions, merged
    every `tail_limit` documents. At 100k documents that is ~130 MB, mostly the signatures themselves;
    dict-of-lists buckets would add ~200 MB of Python objects on top.
    """

    def __init__(self, *, num_perm: int = 128, bands: int = 32, shingle_size: int = 2, seed: int = 1) -> None:
        if num_perm % bands:
            raise ValueError(f"num_perm ({num_perm}) must be a multiple of bands ({bands})")
        self.num_perm = num_perm
        self.bands = bands
        self.rows = num_perm // bands
        self.shingle_size = shingle_size
        self.seed = seed
        rng = np.random.default_rng(seed)
        self._a = rng.integers(1, int(_PRIME), size=num_perm, dtype=np.uint64)
        self._b = rng.integers(0, int(_PRIME), size=num_perm, dtype=np.uint64)
        self.tail_limit = 2048
        self._ids: list[str] = []
        self._row_of: dict[str, int] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._sigs = np.zeros((0, num_perm), dtype=np.uint32)
        self._keys = np.zeros((0, bands), dtype=np.uint64)
        self._sorted_upto = 0  # rows [0, _sorted_upto) are in the sorted buckets, the rest is the tail
        self._sorted_keys = np.zeros((bands, 0), dtype=np.uint64)
        self._sorted_rows = np.zeros((bands, 0), dtype=np.int32)

    # ------------------------------------------------------------------ signatures

    def signature(self, text: str) -> np.ndarray | None:
        """The MinHash signature of `text`, or None when it has no words (nothing to compare)."""
        shingles = word_shingles(text, self.shingle_size)
        if not shingles:
            return None
        hv = _shingle_hashes(shingles)
        # (a*x + b) mod p per permutation; a, x < 2**32 so the product fits in uint64 without wrapping.
        perm = (self._a[:, None] * hv[None, :] + self._b[:, None]) % _PRIME
        return perm.min(axis=1).astype(np.uint32)

    def _band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """One 64-bit key per band (FNV-1a style mix of its rows); wrap-around is intended."""
        grouped = sigs.reshape(len(sigs), self.bands, self.rows).astype(np.uint64)
        keys = np.full((len(sigs), self.bands), 0xCBF29CE484222325, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for r in range(self.rows):
                keys = (keys ^ grouped[:, :, r]) * np.uint64(0x100000001B3)
        return keys

    # ------------------------------------------------------------------ building

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._row_of

    def add(self, doc_id: str, text: str) -> bool:
        """Index `text` under `doc_id` (replacing an earlier text for it); False when it has no words."""
        sig = self.signature(text)
        self.remove(doc_id)
        if sig is None:
            return False
        self._append([doc_id], sig[None, :])
        return True

    def add_signatures(self, doc_ids: list[str], sigs: np.ndarray) -> None:
        """Index signatures computed earlier (and stored by the caller): no text to re-hash on start-up."""
        for doc_id in doc_ids:
            self.remove(doc_id)
        if doc_ids:
            self._append(
                list(doc_ids), np.asarray(sigs, dtype=np.uint32).reshape(len(doc_ids), self.num_perm)
            )

    def find_signature(self, sig: np.ndarray, threshold: float = 0.8) -> list[tuple[str, float]]:
        """Like `find`, for a signature already computed."""
        rows = self._candidates(self._band_keys(sig[None, :])[0])
        if not len(rows):
            return []
        sims = (self._sigs[rows] == sig[None, :]).mean(axis=1)
        hits = [
            (self._ids[r], float(s))
            for r, s in zip(rows.tolist(), sims.tolist(), strict=True)
            if s >= threshold
        ]
        return sorted(hits, key=lambda hit: (-hit[1], hit[0]))

    def remove(self, doc_id: str) -> None:
        """Forget `doc_id` (its row stays as a tombstone until the index is serialised and reloaded)."""
        row = self._row_of.pop(doc_id, None)
        if row is not None:
            self._alive[row] = False

    def _append(self, ids: list[str], sigs: np.ndarray) -> None:
        start, end = len(self._ids), len(self._ids) + len(ids)
        if end > len(self._alive):  # grow by doubling: appends stay amortised O(1)
            cap = max(end, 2 * len(self._alive), 64)
            self._sigs = _grown(self._sigs, cap)
            self._keys = _grown(self._keys, cap)
            self._alive = _grown(self._alive, cap)
        self._ids.extend(ids)
        for i, doc_id in enumerate(ids):
            self._row_of[doc_id] = start + i
        self._sigs[start:end] = sigs
        self._keys[start:end] = self._band_keys(sigs)
        self._alive[start:end] = True
        if end - self._sorted_upto >= self.tail_limit:
            self._merge_tail()

    def _merge_tail(self) -> None:
        """Fold the tail into the sorted buckets: sort the tail alone, then one linear insert per band."""
        lo, hi = self._sorted_upto, len(self._ids)
        tail = self._keys[lo:hi].T  # (bands, tail)
        order = np.argsort(tail, axis=1, kind="stable")
        tail_keys = np.take_along_axis(tail, order, axis=1)
        tail_rows = order + lo
        merged_keys = np.empty((self.bands, hi), dtype=np.uint64)
        merged_rows = np.empty((self.bands, hi), dtype=np.int32)
        for band in range(self.bands):
            at = np.searchsorted(self._sorted_keys[band], tail_keys[band], side="right")
            merged_keys[band] = np.insert(self._sorted_keys[band], at, tail_keys[band])
            merged_rows[band] = np.insert(self._sorted_rows[band], at, tail_rows[band])
        self._sorted_keys, self._sorted_rows, self._sorted_upto = merged_keys, merged_rows, hi

    # ------------------------------------------------------------------ querying

    def _candidates(self, keys: np.ndarray) -> np.ndarray:
        found: list[np.ndarray] = []
        for band in range(self.bands):
            col = self._sorted_keys[band]
            lo = np.searchsorted(col, keys[band], side="left")
            hi = np.searchsorted(col, keys[band], side="right")
            if hi > lo:
                found.append(self._sorted_rows[band, lo:hi])
        tail = self._keys[self._sorted_upto : len(self._ids)]
        if len(tail):
            found.append(np.nonzero((tail == keys[None, :]).any(axis=1))[0] + self._sorted_upto)
        if not found:
            return np.zeros(0, dtype=np.int32)
        rows = np.unique(np.concatenate(found))
        return rows[self._alive[rows]]

    def find(self, text: str, threshold: float = 0.8) -> list[tuple[str, float]]:
        """Indexed documents whose estimated Jaccard similarity to `text` is >= threshold, best first."""
        sig = self.signature(text)
        return [] if sig is None else self.find_signature(sig, threshold)
