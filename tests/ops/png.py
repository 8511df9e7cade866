"""A minimal PNG reader (8-bit RGB/RGBA, not interlaced) for checking screenshots' pixels."""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    pixels: np.ndarray  # (height, width, 3) uint8, RGB

    def count(self, rgb: tuple[int, int, int], box: tuple[int, int, int, int] | None = None) -> int:
        """Pixels of exactly this colour (inside box = (left, top, right, bottom))."""
        area = self.pixels
        if box:
            left, top, right, bottom = box
            area = area[top:bottom, left:right]
        return int(np.all(area == np.array(rgb, dtype=np.uint8), axis=-1).sum())

    def colours(self, top: int = 10) -> list[tuple[tuple[int, int, int], int]]:
        flat = Counter(map(tuple, self.pixels.reshape(-1, 3).tolist()))
        return flat.most_common(top)  # type: ignore[return-value]


def read_png(path: Path) -> Image:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, "unsupported PNG"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1)
        row = line.astype(np.int32)
        if kind == 1:  # sub: a running sum per channel
            row = np.cumsum(row.reshape(width, channels), axis=0).reshape(-1) % 256
        elif kind == 2:  # up
            row = (row + previous) % 256
        elif kind in (3, 4):
            row = _sequential(kind, bytearray(line), previous.astype(np.uint8).tobytes(), channels)
        previous = row.astype(np.int32)
        out[y] = row
    pixels = out.reshape(height, width, channels)[:, :, :3]
    return Image(width, height, pixels)


def _sequential(kind: int, line: bytearray, prior: bytes, bpp: int) -> np.ndarray:
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0
        b = prior[i]
        if kind == 3:
            line[i] = (line[i] + (a + b) // 2) & 0xFF
            continue
        c = prior[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
        line[i] = (line[i] + pred) & 0xFF
    return np.frombuffer(bytes(line), dtype=np.uint8).astype(np.int32)
