"""Text hygiene at the door: what may be stored, searched and quoted, decided once for every way text enters.

Pure functions. Three jobs:

* lone surrogates (``"\\ud83d"`` from a JSON escape of half an emoji) cannot be encoded as UTF-8, so
  SQLite, hashing and every output would fail on them. They are repaired one-for-one with U+FFFD: the
  length is unchanged, so sentence offsets computed before or after agree, and an article that lost half
  an emoji is still worth indexing (skipping it would lose a whole story for one invisible character).
* invisible characters (zero-width space, word joiner, BOM, soft hyphen...) split words for the
  tokenizers; they are removed, so the stored text never holds them and quotes stay verbatim to it.
* garbage: `garbage_share` measures how much of a text is not text (U+FFFD, control characters,
  unassigned or private-use code points), so loaders can refuse a file that decoded into noise.
"""

from __future__ import annotations

import os
import re
import unicodedata

_SURROGATE = re.compile("[\ud800-\udfff]")
# Always invisible and meaningless in news text: zero-width space, word joiner, zero-width no-break space
# (a BOM inside text), soft hyphen, Mongolian vowel separator.
_ALWAYS_INVISIBLE = "\u200b\u2060\ufeff\u00ad\u180e"
# Zero-width (non-)joiners matter inside emoji sequences (no word character either side): kept there,
# removed next to letters and digits, where they only split words.
_INVISIBLE = re.compile(f"[{_ALWAYS_INVISIBLE}]|(?<=\\w)[\u200c\u200d]|[\u200c\u200d](?=\\w)")
_BENIGN_CONTROLS = frozenset("\t\n\r\f\v")
#: Characters of a text looked at by `garbage_share`: enough to judge, bounded for 50 MB files.
GARBAGE_SAMPLE = 64 * 1024


def has_surrogates(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def repair_surrogates(text: str) -> str:
    """Each lone surrogate becomes U+FFFD; the length is unchanged."""
    return _SURROGATE.sub("\ufffd", text) if has_surrogates(text) else text


def drop_invisible(text: str) -> str:
    """Remove characters that are invisible but split words (U+200B, U+2060, U+FEFF, U+00AD, ...)."""
    return _INVISIBLE.sub("", text)


def clean_text(text: str) -> str:
    """Text as stored: encodable and without word-splitting invisibles."""
    return drop_invisible(repair_surrogates(text))


def printable(text: str) -> str:
    """`text` made encodable: a path's undecodable bytes as ``\\xe9``, other surrogates U+FFFD."""
    if not has_surrogates(text):
        return text
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeError:
        return repair_surrogates(text)


def is_garbage_char(ch: str) -> bool:
    if ch == "\ufffd":
        return True
    category = unicodedata.category(ch)
    if category == "Cc":
        return ch not in _BENIGN_CONTROLS
    return category in ("Cn", "Co", "Cs")


def garbage_share(text: str, *, extra: int = 0) -> float:
    """The share of garbage among the non-whitespace characters of (the start of) `text`.

    `extra` counts garbage the caller saw that left no trace in the text (bytes a fallback decoder
    turned into plausible characters).
    """
    sample = text[:GARBAGE_SAMPLE]
    visible = [ch for ch in sample if not ch.isspace()]
    if not visible:
        return 0.0
    bad = sum(1 for ch in visible if is_garbage_char(ch)) + extra
    return min(1.0, bad / len(visible))
