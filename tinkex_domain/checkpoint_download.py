"""Download a checkpoint archive and extract it safely.

    result = download_checkpoint(rest_client, "tinker://<run>/weights/<name>", output_dir="ckpts")
    result.destination      # ckpts/<run>_weights_<name>

The archive URL comes from ``RestClient.get_checkpoint_archive_url_from_tinker_path``; the
(pre-signed) archive is fetched with the Pristine client's ``fetch_url`` (no API key sent),
streamed to a temporary ``tinkex_checkpoint_*.tar`` next to the target (constant memory), then
extracted: only regular files and directories, no absolute paths, no ``..``, no links or
devices. The temporary archive is always removed; a failed extraction removes the target.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from pristine_core.errors import PristineError
from tinkex_domain.types import ParsedCheckpointTinkerPath

#: ``progress(downloaded_bytes, total_bytes)``; called after each chunk when the size is known.
Progress = Callable[[int, int], None]
CHUNK_SIZE = 1 << 16


class CheckpointDownloadError(PristineError):
    """A download failed; ``reason`` is ``exists``, ``download_failed`` or ``extraction_failed``."""

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        self.reason = reason
        self.status = status
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, str(self), self.status))


@attrs.frozen
class DownloadResult:
    """Where a checkpoint was extracted and which checkpoint it was."""

    destination: Path
    checkpoint_path: str
    bytes_downloaded: int


def target_directory(tinker_path: str, output_dir: str | os.PathLike[str] = ".") -> Path:
    """``<output_dir>/<path without tinker:// and "/" replaced by "_">`` (the path is validated)."""
    ParsedCheckpointTinkerPath.from_tinker_path(tinker_path)
    return Path(output_dir) / tinker_path[len("tinker://") :].replace("/", "_")


def _client_of(rest_client: Any) -> Any:
    client = getattr(getattr(rest_client, "holder", None), "client", None)
    if client is None or not hasattr(client, "fetch_url"):
        raise TypeError("download_checkpoint needs a RestClient (from ServiceClient.create_rest_client())")
    return client


def _download(client: Any, url: str, into: Any, progress: Progress | None, timeout_s: float | None) -> int:
    try:
        response = client.fetch_url(url, stream=True, timeout_s=timeout_s)
    except PristineError as exc:
        raise CheckpointDownloadError("download_failed", f"archive download failed: {exc}") from exc
    try:
        if response.status_code != 200:
            raise CheckpointDownloadError(
                "download_failed", f"archive download failed with HTTP {response.status_code}", response.status_code
            )
        length = response.headers.get("content-length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        try:
            for chunk in response.iter_bytes(CHUNK_SIZE):
                into.write(chunk)
                done += len(chunk)
                if progress is not None and total is not None:
                    progress(done, total)
        except (OSError, PristineError) as exc:
            raise CheckpointDownloadError("download_failed", f"archive download interrupted: {exc}") from exc
        if total is not None and done != total:
            raise CheckpointDownloadError("download_failed", f"archive truncated: got {done} of {total} bytes")
        return done
    finally:
        response.close()


def _member_target(root: Path, member: tarfile.TarInfo) -> Path | None:
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


def extract_archive(archive: str | os.PathLike[str], destination: str | os.PathLike[str]) -> list[Path]:
    """Extract a tar (optionally compressed) into ``destination`` safely; returns the files written.

    Every member is checked before anything is written; an unsafe one raises ValueError.
    """
    root = Path(destination)
    written: list[Path] = []
    with tarfile.open(archive, mode="r:*") as tar:
        members = tar.getmembers()
        plan = [(member, _member_target(root, member)) for member in members]
        root.mkdir(parents=True, exist_ok=True)
        for member, target in plan:
            if target is None:
                continue
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:
                raise ValueError(f"cannot read archive member {member.name!r}")
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK_SIZE)
            written.append(target)
    return written


def download_checkpoint(
    rest_client: Any, tinker_path: str, *, output_dir: str | os.PathLike[str] = ".", force: bool = False,
    progress: Progress | None = None, timeout_s: float | None = None,
) -> DownloadResult:
    """Download and extract the checkpoint at ``tinker_path`` into ``output_dir``.

    An existing target raises :class:`CheckpointDownloadError` (``reason="exists"``) unless
    ``force``, which replaces it. A malformed path raises a validation error before any request.
    """
    target = target_directory(tinker_path, output_dir)
    if target.exists() or target.is_symlink():
        if not force:
            raise CheckpointDownloadError("exists", f"{target} already exists (use force=True to replace it)")
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    client = _client_of(rest_client)
    reply = rest_client.get_checkpoint_archive_url_from_tinker_path(tinker_path).result()
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix="tinkex_checkpoint_", suffix=".tar", dir=output_dir)
    try:
        with os.fdopen(handle, "wb") as tmp:
            size = _download(client, reply.url, tmp, progress, timeout_s)
        try:
            extract_archive(tmp_name, target)
        except (tarfile.TarError, ValueError, OSError) as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise CheckpointDownloadError("extraction_failed", f"cannot extract the checkpoint archive: {exc}") from exc
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return DownloadResult(destination=target, checkpoint_path=tinker_path, bytes_downloaded=size)
