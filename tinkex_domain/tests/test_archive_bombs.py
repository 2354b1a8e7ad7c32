"""Archive bombs: each kind is refused with a typed error, writes nothing outside, leaves nothing.

Kinds: a gzip of zeros (ratio), a GNU sparse tar (tiny archive, huge declared member), 12,000
tiny files (count; the default is 10,000) and one member declaring 40 GiB (per-file size). All
use the default limits.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tinkex_domain.archive_limits import ArchiveLimitError, ExtractionLimits, extract_archive
from tinkex_domain.checkpoint_download import CheckpointDownloadError, CheckpointLimitError, download_checkpoint

from .test_checkpoint_download import PATH, FakeResponse, FakeRest


def gzip_bomb(size: int = 40 << 20) -> bytes:
    """A .tar.gz whose one member is ``size`` zero bytes (compresses ~1000:1)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("adapter/weights.bin")
        info.size = size
        tar.addfile(info, _Zeros(size))
    return gzip.compress(raw.getvalue(), compresslevel=1)


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def many_files(count: int = 12_000) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for i in range(count):
            tar.addfile(tarfile.TarInfo(f"f{i}"), io.BytesIO(b""))
    return raw.getvalue()


def huge_member(declared: int = 40 << 30) -> bytes:
    """A tar header declaring a ``declared``-byte member, followed by a few real bytes only."""
    info = tarfile.TarInfo("adapter/huge.bin")
    info.size = declared
    return info.tobuf(format=tarfile.PAX_FORMAT) + b"x" * 1024


def sparse_tar(tmp_path: Path, size: int = 300 << 20) -> bytes:
    if shutil.which("tar") is None:
        pytest.skip("GNU tar is needed to build a sparse archive")
    work = tmp_path / "sparse-src"
    work.mkdir()
    with open(work / "hole.bin", "wb") as handle:
        handle.truncate(size)
        handle.seek(size - 1)
        handle.write(b"\0")
    out = tmp_path / "sparse.tar"
    subprocess.run(["tar", "-cSf", str(out), "-C", str(work), "hole.bin"], check=True, capture_output=True)
    data = out.read_bytes()
    shutil.rmtree(work)
    out.unlink()
    assert len(data) < 64 << 10  # the archive itself is tiny
    return data


def _refused(tmp_path: Path, archive: bytes, limit: str) -> CheckpointLimitError:
    out = tmp_path / "out"
    with pytest.raises(CheckpointLimitError) as info:
        download_checkpoint(FakeRest(FakeResponse(200, archive, chunk=1 << 16)), PATH, output_dir=out)
    error = info.value
    assert isinstance(error, CheckpointDownloadError) and error.reason == "limit_exceeded"
    assert error.limit == limit, str(error)
    assert list(out.iterdir()) == []  # no target, no temporary archive
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing written outside
    return error


def test_gzip_ratio_bomb_is_refused(tmp_path: Path) -> None:
    archive = gzip_bomb()
    assert len(archive) < 200 << 10
    error = _refused(tmp_path, archive, "max_ratio")
    assert "--max-ratio" in str(error)


def test_sparse_bomb_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, sparse_tar(tmp_path), "max_ratio")


def test_file_count_bomb_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, many_files(), "max_files")


def test_huge_member_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    _refused(tmp_path, huge_member(), "max_file_bytes")


def test_total_bytes_limit_and_raising_limits(tmp_path: Path) -> None:
    archive = tmp_path / "two.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("a", "b"):
            info = tarfile.TarInfo(name)
            info.size = 600
            tar.addfile(info, io.BytesIO(os.urandom(600)))
    with pytest.raises(ArchiveLimitError) as info:
        extract_archive(archive, tmp_path / "d", ExtractionLimits(max_total_bytes=1000))
    assert info.value.limit == "max_total_bytes" and not (tmp_path / "d").exists()
    # Raising a limit lets an archive through that the lower one refuses.
    many = tmp_path / "many.tar"
    many.write_bytes(many_files(1500))
    with pytest.raises(ArchiveLimitError, match="max_files"):
        extract_archive(many, tmp_path / "few", ExtractionLimits(max_files=1000))
    assert len(extract_archive(many, tmp_path / "many", ExtractionLimits(max_files=2000))) == 1500


def test_limits_are_validated() -> None:
    from pristine_core.errors import ValidationError

    with pytest.raises(ValidationError, match="max_ratio"):
        ExtractionLimits(max_ratio=0)
