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


#: The first bytes of a zstd frame.
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def undo_content_encoding(data: bytes, content_encoding: str, max_size: int = 1 << 31) -> bytes:
    """A reply body whose ``Content-Encoding`` the transport may or may not have undone.

    HTTP stacks decode gzip and deflate themselves but often not zstd; a zstd-encoded body is
    decompressed here when it still starts with a zstd frame. Other bodies pass unchanged.
    """
    kinds = [k.strip().lower() for k in content_encoding.split(",") if k.strip()]
    if kinds and kinds[-1] == "zstd" and data[:4] == ZSTD_MAGIC:
        return decompress(data, "zstd", max_size)
    return data


def decompress(data: bytes, kind: str, max_size: int = 1 << 31) -> bytes:
    """``data`` decompressed (``kind`` as a Content-Encoding value; identity passes through)."""
    kind = kind.strip().lower()
    if kind in ("", "identity"):
        return data
    if kind != "zstd":
        raise ValueError(f"unsupported content encoding {kind!r}")
    return bytes(_zstd().ZstdDecompressor().decompress(data, max_output_size=max_size))
