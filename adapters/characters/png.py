"""Just enough PNG to read and write the text chunks that carry character cards.

A PNG is an 8-byte signature followed by chunks: 4-byte big-endian length, 4-byte type,
data, and a CRC-32 of type + data. Card tools (SillyTavern and others) store the card JSON
base64-encoded in a ``tEXt`` chunk whose keyword is ``chara`` (V2) or ``ccv3`` (V3). Every
CRC is checked, because a truncated download or a re-encoded image otherwise turns into a
confusing JSON or base64 error much later.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from sleepmem.engine.errors import InputError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Text chunks are decoded only up to this size after decompression: a zTXt/iTXt chunk is a
# zlib stream, and a few KiB of compressed zeros would otherwise inflate into gigabytes.
MAX_TEXT_BYTES = 16 * 1024 * 1024
TEXT_TYPES = (b"tEXt", b"zTXt", b"iTXt")


class PngError(InputError):
    """The bytes are not a well-formed PNG (bad signature, truncated chunk, CRC mismatch)."""


@dataclass(frozen=True)
class Chunk:
    type: bytes
    data: bytes

    def encode(self) -> bytes:
        crc = zlib.crc32(self.type + self.data) & 0xFFFFFFFF
        return struct.pack(">I", len(self.data)) + self.type + self.data + struct.pack(">I", crc)


def read_chunks(data: bytes) -> list[Chunk]:
    """Every chunk of a PNG, in order, up to and including IEND. Raises PngError on a bad
    signature, a chunk running past the end of the data, a CRC mismatch, or a missing IEND."""
    if not data.startswith(SIGNATURE):
        raise PngError("not a PNG file (the 8-byte PNG signature is missing)")
    chunks: list[Chunk] = []
    pos = len(SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise PngError(f"PNG is truncated: chunk header expected at byte {pos}")
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 8 + length + 4
        if end > len(data):
            name = ctype.decode("latin-1", "replace")
            raise PngError(f"PNG is truncated: chunk {name!r} at byte {pos} runs past the end")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : end])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            name = ctype.decode("latin-1", "replace")
            raise PngError(f"PNG is corrupt: CRC mismatch in chunk {name!r} at byte {pos}")
        chunks.append(Chunk(ctype, body))
        pos = end
        if ctype == b"IEND":
            return chunks


def write_chunks(chunks: Iterable[Chunk]) -> bytes:
    return SIGNATURE + b"".join(chunk.encode() for chunk in chunks)


def _inflate(data: bytes) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(data, MAX_TEXT_BYTES + 1)
    if len(out) > MAX_TEXT_BYTES or d.unconsumed_tail:
        raise PngError(f"PNG text chunk inflates to more than {MAX_TEXT_BYTES} bytes")
    return out


def decode_text(chunk: Chunk) -> tuple[str, str]:
    """(keyword, text) of a tEXt, zTXt or iTXt chunk. tEXt/zTXt text is Latin-1 by the PNG
    spec; iTXt is UTF-8. Base64 card payloads are ASCII either way."""
    keyword, sep, rest = chunk.data.partition(b"\0")
    if not sep:
        raise PngError(f"PNG {chunk.type.decode()} chunk has no keyword separator")
    key = keyword.decode("latin-1")
    try:
        if chunk.type == b"tEXt":
            return key, rest.decode("latin-1")
        if chunk.type == b"zTXt":
            if not rest or rest[0] != 0:
                raise PngError("PNG zTXt chunk uses an unknown compression method")
            return key, _inflate(rest[1:]).decode("latin-1")
        if chunk.type == b"iTXt":
            if len(rest) < 2:
                raise PngError("PNG iTXt chunk is truncated")
            compressed, method, tail = rest[0], rest[1], rest[2:]
            _lang, _, tail = tail.partition(b"\0")
            _translated, _, text = tail.partition(b"\0")
            if compressed:
                if method != 0:
                    raise PngError("PNG iTXt chunk uses an unknown compression method")
                text = _inflate(text)
            return key, text.decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as exc:
        raise PngError(f"PNG text chunk {key!r} cannot be decoded: {exc}") from exc
    raise PngError(f"chunk {chunk.type!r} is not a text chunk")


def text_chunks(data: bytes) -> dict[str, str]:
    """Keyword -> text of every text chunk in the PNG; when a keyword repeats, the last wins
    (editors that append a new card chunk without removing the old one mean the new one)."""
    out: dict[str, str] = {}
    for chunk in read_chunks(data):
        if chunk.type in TEXT_TYPES:
            key, text = decode_text(chunk)
            out[key] = text
    return out


def set_text(data: bytes, keyword: str, text: str) -> bytes:
    """The PNG with one tEXt chunk ``keyword`` holding ``text`` (ASCII/Latin-1), replacing any
    text chunk of that keyword, placed just before IEND."""
    if not 1 <= len(keyword) <= 79 or "\0" in keyword:
        raise PngError("PNG text keyword must be 1-79 characters without NUL")
    kept = [
        c for c in read_chunks(data) if not (c.type in TEXT_TYPES and decode_text(c)[0] == keyword)
    ]
    new = Chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))
    return write_chunks([*kept[:-1], new, kept[-1]])
