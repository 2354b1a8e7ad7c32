"""Download a checkpoint archive and extract it safely.

    result = download_checkpoint(rest_client, "tinker://<run>/weights/<name>", output_dir="ckpts")
    result.destination      # ckpts/<run>_weights_<name>

The archive URL comes from ``RestClient.get_checkpoint_archive_url_from_tinker_path``; the
(pre-signed) archive is fetched with the Pristine client's ``fetch_url`` (no API key sent),
streamed to a temporary ``tinkex_checkpoint_*.tar`` next to the target (constant memory), then
extracted: only regular files and directories, no absolute paths, no ``..``, no links or
devices, and within :class:`~tinkex_domain.archive_limits.ExtractionLimits` (total bytes, file
count, per-file size, compression ratio; ``limits=`` or the CLI's ``--max-*`` flags raise them).
The temporary archive is always removed; a failed or refused extraction removes the target.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from pristine_core.errors import PristineError
from tinkex_domain.archive_limits import (
    DEFAULT_LIMITS,
    ArchiveLimitError,
    ExtractionLimits,
    extract_archive,
    remove_tree,
)
from tinkex_domain.types import ParsedCheckpointTinkerPath

#: ``progress(downloaded_bytes, total_bytes)``; called after each chunk when the size is known.
Progress = Callable[[int, int], None]
CHUNK_SIZE = 1 << 16
#: Slack allowed on top of ``max_total_bytes`` for tar headers and padding while downloading.
DOWNLOAD_SLACK_BYTES = 64 << 20

__all__ = [
    "ArchiveLimitError",
    "CheckpointDownloadError",
    "CheckpointLimitError",
    "DownloadResult",
    "ExtractionLimits",
    "download_checkpoint",
    "extract_archive",
    "target_directory",
]


class CheckpointDownloadError(PristineError):
    """A download failed; ``reason`` is ``exists``, ``download_failed`` or ``extraction_failed``."""

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        self.reason = reason
        self.status = status
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, str(self), self.status))


class CheckpointLimitError(CheckpointDownloadError):
    """The archive exceeds an extraction limit (``reason="limit_exceeded"``); nothing is left.

    ``limit`` names the :class:`ExtractionLimits` field, ``value`` what the archive needed and
    ``allowed`` the bound.
    """

    def __init__(self, limit: str, value: float, allowed: float, message: str) -> None:
        self.limit = limit
        self.value = value
        self.allowed = allowed
        super().__init__("limit_exceeded", message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.limit, self.value, self.allowed, str(self)))


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
    if client is None or not hasattr(getattr(client, "meta", None), "fetch_url"):
        raise TypeError("download_checkpoint needs a RestClient (from ServiceClient.create_rest_client())")
    return client


def _download(
    client: Any, url: str, into: Any, progress: Progress | None, timeout_s: float | None, max_bytes: int | None = None
) -> int:
    try:
        response = client.meta.fetch_url(url, stream=True, timeout_s=timeout_s)
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
                done += len(chunk)
                if max_bytes is not None and done > max_bytes:
                    raise CheckpointLimitError(
                        "max_total_bytes", done, max_bytes, f"archive download exceeds {max_bytes} bytes; refused"
                    )
                into.write(chunk)
                if progress is not None and total is not None:
                    progress(done, total)
        except (OSError, PristineError) as exc:
            raise CheckpointDownloadError("download_failed", f"archive download interrupted: {exc}") from exc
        if total is not None and done != total:
            raise CheckpointDownloadError("download_failed", f"archive truncated: got {done} of {total} bytes")
        return done
    finally:
        response.close()


def download_checkpoint(
    rest_client: Any, tinker_path: str, *, output_dir: str | os.PathLike[str] = ".", force: bool = False,
    progress: Progress | None = None, timeout_s: float | None = None, limits: ExtractionLimits = DEFAULT_LIMITS,
) -> DownloadResult:
    """Download and extract the checkpoint at ``tinker_path`` into ``output_dir``.

    An existing target raises :class:`CheckpointDownloadError` (``reason="exists"``) unless
    ``force``, which replaces it. A malformed path raises a validation error before any request.
    An archive beyond ``limits`` raises :class:`CheckpointLimitError` and leaves nothing behind.
    """
    target = target_directory(tinker_path, output_dir)
    if target.exists() or target.is_symlink():
        if not force:
            raise CheckpointDownloadError("exists", f"{target} already exists (use force=True to replace it)")
        remove_tree(target)
    client = _client_of(rest_client)
    reply = rest_client.get_checkpoint_archive_url_from_tinker_path(tinker_path).result()
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix="tinkex_checkpoint_", suffix=".tar", dir=output_dir)
    try:
        with os.fdopen(handle, "wb") as tmp:
            size = _download(
                client, reply.url, tmp, progress, timeout_s, limits.max_total_bytes + DOWNLOAD_SLACK_BYTES
            )
        try:
            extract_archive(tmp_name, target, limits)
        except ArchiveLimitError as exc:
            remove_tree(target)
            raise CheckpointLimitError(exc.limit, exc.value, exc.allowed, str(exc)) from None
        except (tarfile.TarError, ValueError, OSError) as exc:
            remove_tree(target)
            raise CheckpointDownloadError("extraction_failed", f"cannot extract the checkpoint archive: {exc}") from exc
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return DownloadResult(destination=target, checkpoint_path=tinker_path, bytes_downloaded=size)
