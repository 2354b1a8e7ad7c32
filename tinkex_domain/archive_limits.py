"""Bounded, safe extraction of checkpoint archives (tar, optionally gzip/bz2/xz compressed).

Besides refusing traversal, absolute paths, links and devices, extraction is bounded by
:class:`ExtractionLimits` so that a small hostile archive cannot fill the disk:

=================== ================= ==================================================
limit               default           why a real LoRA checkpoint never reaches it
=================== ================= ==================================================
``max_total_bytes`` 64 GiB            a LoRA adapter of a 400B model at rank 256 is < 20 GiB
``max_files``       10,000            checkpoints hold a handful of files
``max_file_bytes``  32 GiB            one adapter/optimizer file stays far below
``max_ratio``       100               float weights compress ~1.1x; tar overhead makes it <= 1
=================== ================= ==================================================

``max_ratio`` is the total declared size of the members divided by the archive's size on disk
(at least 64 KiB is assumed, so tiny archives are never refused for their ratio). Every member
header is checked *before* anything is written (sparse members count at their full size), and
the bytes actually written are counted again while copying. Exceeding a limit raises
:class:`ArchiveLimitError` naming the limit; the caller removes what was written.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath
from typing import IO, Any

import attrs

from pristine_core.errors import PristineError, ValidationError

GIB = 1 << 30
MIB = 1 << 20
CHUNK_SIZE = 1 << 16
#: Archives smaller than this are treated as this big when computing the ratio.
RATIO_FLOOR_BYTES = 64 << 10


def _positive(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValidationError([(attribute.name, "expected a positive number")], "ExtractionLimits")


@attrs.frozen
class ExtractionLimits:
    """Upper bounds for one extraction (see the module docstring for the defaults)."""

    max_total_bytes: int = attrs.field(default=64 * GIB, validator=_positive)
    max_files: int = attrs.field(default=10_000, validator=_positive)
    max_file_bytes: int = attrs.field(default=32 * GIB, validator=_positive)
    max_ratio: float = attrs.field(default=100.0, validator=_positive)


DEFAULT_LIMITS = ExtractionLimits()


class ArchiveLimitError(PristineError, ValueError):
    """An archive exceeds an :class:`ExtractionLimits` bound (``limit``: the field's name)."""

    category = "user"

    def __init__(self, limit: str, value: float, allowed: float, member: str | None = None) -> None:
        self.limit = limit
        self.value = value
        self.allowed = allowed
        self.member = member
        where = f" (member {member!r})" if member else ""
        super().__init__(
            f"archive refused: {limit} exceeded{where}: {value:g} > {allowed:g}; "
            f"raise ExtractionLimits.{limit} (CLI --{limit.replace('_', '-')}) if the archive is trusted"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.limit, self.value, self.allowed, self.member))


def member_target(root: Path, member: tarfile.TarInfo) -> Path | None:
    """Where a member goes under ``root``; None for the archive root itself. Unsafe → ValueError."""
    name = member.name.replace("\\", "/")
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise ValueError(f"unsafe path in archive: {member.name!r}")
    if not (member.isfile() or member.isdir()):
        raise ValueError(f"archive member {member.name!r} is not a regular file or directory")
    parts = [p for p in pure.parts if p not in ("", ".")]
    if not parts:
        return None
    target = root.joinpath(*parts)
    if os.path.commonpath([root.resolve(), target.resolve()]) != str(root.resolve()):
        raise ValueError(f"archive member {member.name!r} escapes the target directory")
    return target


def plan_extraction(
    tar: tarfile.TarFile, root: Path, archive_bytes: int, limits: ExtractionLimits
) -> list[tuple[tarfile.TarInfo, Path]]:
    """Read every member header and check it against ``limits``; nothing is written."""
    plan: list[tuple[tarfile.TarInfo, Path]] = []
    total = 0
    files = 0
    allowed_total = min(limits.max_total_bytes, limits.max_ratio * max(archive_bytes, RATIO_FLOOR_BYTES))
    while True:
        member = tar.next()
        if member is None:
            break
        target = member_target(root, member)
        files += 1
        if files > limits.max_files:
            raise ArchiveLimitError("max_files", files, limits.max_files)
        if member.isfile():
            if member.size > limits.max_file_bytes:
                raise ArchiveLimitError("max_file_bytes", member.size, limits.max_file_bytes, member.name)
            total += member.size
            if total > limits.max_total_bytes:
                raise ArchiveLimitError("max_total_bytes", total, limits.max_total_bytes, member.name)
            if total > allowed_total:
                ratio = total / max(archive_bytes, 1)
                raise ArchiveLimitError("max_ratio", round(ratio, 1), limits.max_ratio, member.name)
        if target is not None:
            plan.append((member, target))
    return plan


def _copy(source: IO[bytes], out: IO[bytes], budget: int, member: str, limit: str) -> int:
    written = 0
    while True:
        chunk = source.read(CHUNK_SIZE)
        if not chunk:
            return written
        written += len(chunk)
        if written > budget:
            raise ArchiveLimitError(limit, written, budget, member)
        out.write(chunk)


def extract_archive(
    archive: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    limits: ExtractionLimits = DEFAULT_LIMITS,
) -> list[Path]:
    """Extract a tar (optionally compressed) into ``destination`` safely; returns the files written.

    Every member is checked (paths, kinds, limits) before anything is written; an unsafe member
    raises ValueError, a limit :class:`ArchiveLimitError` (a ValueError too). On any failure the
    files written so far stay for the caller to remove (``download_checkpoint`` removes them).
    """
    root = Path(destination)
    archive_bytes = os.path.getsize(archive)
    written: list[Path] = []
    with tarfile.open(archive, mode="r:*") as tar:
        plan = plan_extraction(tar, root, archive_bytes, limits)
        root.mkdir(parents=True, exist_ok=True)
        remaining = min(limits.max_total_bytes, int(limits.max_ratio * max(archive_bytes, RATIO_FLOOR_BYTES)))
        for member, target in plan:
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:
                raise ValueError(f"cannot read archive member {member.name!r}")
            with source, open(target, "wb") as out:
                written.append(target)
                budget = min(limits.max_file_bytes, remaining)
                limit = "max_file_bytes" if budget == limits.max_file_bytes else "max_total_bytes"
                remaining -= _copy(source, out, budget, member.name, limit)
    return written


def remove_tree(path: Path) -> None:
    """Remove ``path`` (file, link or directory tree) if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)
