"""Write src/previewgate/admin_pages/static/favicon.ico from the shapes of favicon.svg.

    python scripts/favicon.py

The ICO holds one 32x32 PNG (allowed since Windows Vista, read by every browser), drawn
here with 4x4 supersampling so no imaging library is needed. Keep the shapes in step
with favicon.svg.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

SIZE = 32
SAMPLES = 4
Shape = tuple[float, float, float, float, float, tuple[int, int, int]]
# (x, y, width, height, corner radius, RGB), back to front, as in favicon.svg.
SHAPES: list[Shape] = [
    (0, 0, 32, 32, 6, (0x11, 0x18, 0x27)),
    (7, 8, 7, 16, 1.5, (0x25, 0x63, 0xEB)),
    (18, 8, 7, 16, 1.5, (0xD9, 0x77, 0x06)),
]
OUT = Path(__file__).parent.parent / "src/previewgate/admin_pages/static/favicon.ico"


def inside(px: float, py: float, shape: Shape) -> bool:
    x, y, w, h, r, _ = shape
    if not (x <= px <= x + w and y <= py <= y + h):
        return False
    cx = min(max(px, x + r), x + w - r)
    cy = min(max(py, y + r), y + h - r)
    return (px - cx) ** 2 + (py - cy) ** 2 <= r * r


def pixel(col: int, row: int) -> bytes:
    totals = [0.0, 0.0, 0.0, 0.0]
    for i in range(SAMPLES):
        for j in range(SAMPLES):
            px, py = col + (i + 0.5) / SAMPLES, row + (j + 0.5) / SAMPLES
            hits = [shape[5] for shape in SHAPES if inside(px, py, shape)]
            if hits:
                rgba = (*hits[-1], 255)  # the front-most shape covers the others
                totals = [t + c for t, c in zip(totals, rgba, strict=True)]
    n = SAMPLES * SAMPLES
    alpha = totals[3] / n
    if alpha == 0:
        return bytes(4)
    rgb = [round(t / (totals[3] / 255)) for t in totals[:3]]
    return bytes([*rgb, round(alpha)])


def png() -> bytes:
    rows = b"".join(b"\0" + b"".join(pixel(c, r) for c in range(SIZE)) for r in range(SIZE))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def ico(image: bytes) -> bytes:
    directory = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", SIZE, SIZE, 0, 0, 1, 32, len(image), 6 + 16)
    return directory + entry + image


if __name__ == "__main__":
    OUT.write_bytes(ico(png()))
    print(OUT, OUT.stat().st_size, "bytes")
