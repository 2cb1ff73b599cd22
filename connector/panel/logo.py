"""The Deskguard logo, drawn by code: a white shield with a check mark on a blue rounded square.

Zendesk wants ``assets/logo.png`` at 320×320 and ``assets/logo-small.png`` at 128×128
(docs/vendors/zendesk.md). Drawing with numpy (4× supersampling for smooth edges) and writing the
PNG with zlib keeps the package build free of image libraries and byte-for-byte reproducible.
"""

from __future__ import annotations

import functools
import struct
import zlib

import numpy as np

SIZES = {"logo.png": 320, "logo-small.png": 128}
SUPERSAMPLE = 4

TOP = np.array([31, 115, 183], dtype=np.float64)  # #1f73b7
BOTTOM = np.array([17, 61, 105], dtype=np.float64)  # #113d69
CHECK = np.array([3, 129, 83], dtype=np.float64)  # #038153


def png_bytes(rgba: np.ndarray) -> bytes:
    """Encode an (h, w, 4) uint8 array as a PNG (colour type 6, 8 bits, no interlace)."""
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError("expected an (h, w, 4) uint8 array")
    height, width = rgba.shape[:2]
    raw = b"".join(b"\x00" + rgba[y].tobytes() for y in range(height))  # filter 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; raises ValueError when it is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", data[16:24])


def _inside_polygon(x: np.ndarray, y: np.ndarray, poly: np.ndarray) -> np.ndarray:
    inside = np.zeros(x.shape, dtype=bool)
    n = len(poly)
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = (x2 - x1) * (y - y1) / (y2 - y1) + x1
        inside ^= crosses & (x < x_at)
    return inside


def _shield(scale: float) -> np.ndarray:
    """Shield outline in unit coordinates (0..1), centred, scaled about the middle."""
    pts = [(0.5, 0.17)]
    # top edge dips a little towards the middle, shoulders at y=0.24
    pts += [(0.5 + 0.27 * t, 0.17 + 0.07 * t * t) for t in np.linspace(0.1, 1.0, 8)]
    # right side: straight, then a curve into the bottom point
    pts += [(0.77, 0.24 + 0.22 * t) for t in np.linspace(0.1, 1.0, 5)]
    pts += [
        (0.5 + 0.27 * np.cos(a), 0.46 + 0.38 * np.sin(a)) for a in np.linspace(0.15, np.pi / 2, 14)
    ]
    right = np.array(pts)
    left = right[::-1].copy()
    left[:, 0] = 1.0 - left[:, 0]
    poly = np.vstack([right, left[1:]])
    return (poly - 0.5) * scale + 0.5


def _segment_distance(x, y, a, b):
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = np.clip(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.hypot(x - (ax + t * dx), y - (ay + t * dy))


def draw_logo(size: int) -> np.ndarray:
    """The logo as an (size, size, 4) uint8 RGBA array."""
    n = size * SUPERSAMPLE
    coords = (np.arange(n) + 0.5) / n
    x, y = np.meshgrid(coords, coords)
    # rounded square (corner radius 18 %)
    r = 0.18
    qx = np.maximum(np.abs(x - 0.5) - (0.5 - r), 0.0)
    qy = np.maximum(np.abs(y - 0.5) - (0.5 - r), 0.0)
    tile = np.hypot(qx, qy) <= r
    shield = _inside_polygon(x, y, _shield(1.0))
    inner = _inside_polygon(x, y, _shield(0.8))
    check = (
        np.minimum(
            _segment_distance(x, y, (0.36, 0.50), (0.46, 0.61)),
            _segment_distance(x, y, (0.46, 0.61), (0.66, 0.39)),
        )
        <= 0.045
    )

    rgb = TOP[None, None, :] * (1 - y[..., None]) + BOTTOM[None, None, :] * y[..., None]
    rgb = np.where(shield[..., None], 255.0, rgb)
    rgb = np.where((inner & ~check)[..., None], np.array([236.0, 244.0, 250.0]), rgb)
    rgb = np.where((inner & check)[..., None], CHECK, rgb)
    alpha = tile.astype(np.float64) * 255.0

    def downsample(a: np.ndarray) -> np.ndarray:
        shape = (size, SUPERSAMPLE, size, SUPERSAMPLE, *a.shape[2:])
        return a.reshape(shape).mean(axis=(1, 3))

    # premultiply for the averaging so edge pixels do not bleed the transparent colour
    a = downsample(alpha)
    colour = downsample(rgb * alpha[..., None])
    with np.errstate(divide="ignore", invalid="ignore"):
        colour = np.where(a[..., None] > 0, colour / a[..., None], 0.0)
    out = np.dstack([colour, a])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=4)
def logo_png(size: int) -> bytes:
    return png_bytes(draw_logo(size))
