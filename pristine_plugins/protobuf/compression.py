"""Body compression for protobuf payloads (zstd through the optional ``zstandard`` package)."""

from __future__ import annotations

from typing import Any


def _zstd() -> Any:
    try:
        import zstandard
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise RuntimeError("zstd compression needs the 'zstandard' package "
                           "(pip install pristine-protobuf[zstd])") from None
    return zstandard


def compress(data: bytes, kind: str, level: int = 3) -> bytes:
    """``data`` compressed with ``kind`` (only ``"zstd"``)."""
    if kind != "zstd":
        raise ValueError(f"unknown compression {kind!r}")
    return bytes(_zstd().ZstdCompressor(level=level).compress(data))


def decompress(data: bytes, kind: str, max_size: int = 1 << 31) -> bytes:
    """``data`` decompressed (``kind`` as a Content-Encoding value; identity passes through)."""
    kind = kind.strip().lower()
    if kind in ("", "identity"):
        return data
    if kind != "zstd":
        raise ValueError(f"unsupported content encoding {kind!r}")
    return bytes(_zstd().ZstdDecompressor().decompress(data, max_output_size=max_size))
