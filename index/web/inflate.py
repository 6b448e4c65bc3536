"""Content-Encoding decoding that never produces more than the caller has room for.

A 64 KB chunk of gzip can expand to 64 MB in one call; a size cap checked after decoding each chunk is too
late. Here each call gets the room left and returns at most one byte more (zlib's `max_length`), so the
caller sees "too large" with memory bounded by the cap, not by the compression ratio.
"""

from __future__ import annotations

import zlib

ACCEPT_ENCODING = "gzip, deflate"  # what we can decode within the cap; servers may send nothing else


class DecodeError(ValueError):
    """The body is not valid data for its Content-Encoding; the message is the one-line reason."""


class Decoder:
    """Identity: the bytes as they came (a raw chunk is already small)."""

    def feed(self, data: bytes, room: int) -> bytes:
        return data


class ZlibDecoder(Decoder):
    """gzip or deflate (zlib-wrapped, or raw as some servers send it), bounded per call."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._raw_fallback = encoding == "deflate"
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        """At most `room + 1` decoded bytes: reaching room + 1 means the body is over the cap."""
        try:
            out = self._inflater.decompress(data, max(room, 0) + 1)
        except zlib.error as exc:
            if not self._raw_fallback:
                raise DecodeError(f"bad {self.encoding} data from the server ({exc})") from None
            self._raw_fallback = False
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.feed(data, room)
        self._raw_fallback = False
        return out


def decoder_for(content_encoding: str | None) -> Decoder:
    """The decoder for a Content-Encoding header; DecodeError for one we did not ask for."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return Decoder()
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return ZlibDecoder("gzip" if codings[0] == "x-gzip" else codings[0])
    raise DecodeError(f"unsupported content encoding ({', '.join(codings)})")
