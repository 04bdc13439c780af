"""Content-Encoding decoders that never produce more than ``PIECE`` bytes per step.

A gzip, deflate or brotli bomb turns kilobytes into gigabytes in one ``decompress`` call;
these decoders hand out the output in small pieces, so the caller can count decompressed
bytes while streaming and stop at its limit without ever holding more than the limit.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import brotli

from syndicate.reader.errors import DecodingError

PIECE = 64 * 1024


class Identity:
    compressed = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def flush(self) -> Iterator[bytes]:
        return iter(())


class Zlib:
    """gzip (``wbits=31``) or deflate: zlib-wrapped as the spec says, or raw as some servers send it."""

    compressed = True

    def __init__(self, wbits: int):
        self.wbits, self.started = wbits, False
        self.inflater = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            while True:
                out = self.inflater.decompress(data, PIECE)
                self.started = self.started or bool(out)
                if out:
                    yield out
                data = self.inflater.unconsumed_tail
                if not data and len(out) < PIECE:
                    return
        except zlib.error as exc:
            if self.wbits == zlib.MAX_WBITS and not self.started:  # deflate without the zlib header
                self.wbits, self.inflater = -zlib.MAX_WBITS, zlib.decompressobj(-zlib.MAX_WBITS)
                yield from self.feed(data)
                return
            raise DecodingError(f"corrupt compressed body: {exc}") from exc

    def flush(self) -> Iterator[bytes]:
        yield from self.feed(b"")


class Brotli:
    compressed = True

    def __init__(self):
        self.decompressor = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            out = self.decompressor.process(data, output_buffer_limit=PIECE)
            while True:
                if out:
                    yield out
                if self.decompressor.can_accept_more_data():
                    return
                out = self.decompressor.process(b"", output_buffer_limit=PIECE)
        except brotli.error as exc:
            raise DecodingError(f"corrupt brotli body: {exc}") from exc

    def flush(self) -> Iterator[bytes]:
        return iter(())


class Chain:
    """Encodings applied in order (``Content-Encoding: gzip, br``) are undone in reverse."""

    def __init__(self, decoders: list):
        self.decoders = decoders
        self.compressed = any(d.compressed for d in decoders)

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self.decoders):
            yield data
            return
        for piece in self.decoders[index].feed(data):
            yield from self._through(index + 1, piece)

    def flush(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self.decoders):
            for piece in decoder.flush():
                yield from self._through(index + 1, piece)


def decoder_for(content_encoding: str | None) -> Chain:
    names = [n.strip().lower() for n in (content_encoding or "").split(",") if n.strip()]
    decoders: list[Zlib | Brotli | Identity] = []
    for name in reversed(names):
        if name in ("gzip", "x-gzip"):
            decoders.append(Zlib(zlib.MAX_WBITS | 16))
        elif name == "deflate":
            decoders.append(Zlib(zlib.MAX_WBITS))
        elif name == "br":
            decoders.append(Brotli())
        elif name != "identity":
            raise DecodingError(f"unsupported Content-Encoding {name!r}")
    return Chain(decoders or [Identity()])
