"""Checkpoint download: streaming, progress, exists/force, failures and safe extraction."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pristine_core.errors import APIConnectionError, NotFoundError, ValidationError
from tinkex_domain import ServiceClient
from tinkex_domain._futures import resolved
from tinkex_domain.checkpoint_download import (
    CheckpointDownloadError,
    download_checkpoint,
    extract_archive,
    target_directory,
)
from tinkex_domain.types import CheckpointArchiveUrlResponse

from .conftest import BASE_MODEL

PATH = "tinker://run-7/weights/step-3"


def make_tar(entries: list[tuple[str, bytes | None]], link: tuple[str, str] | None = None) -> bytes:
    """A tar with files (bytes) and directories (None), optionally one symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            tar.addfile(info)
    return buf.getvalue()


class FakeResponse:
    def __init__(self, status: int, body: bytes, chunk: int = 1000, length: int | None = -1,
                 fail_after: int | None = None) -> None:
        self.status_code = status
        self.body = body
        self.chunk = chunk
        self.headers = {} if length is None else {"content-length": str(len(body) if length == -1 else length)}
        self.fail_after = fail_after
        self.closed = False

    def iter_bytes(self, chunk_size: int = 65536) -> Iterator[bytes]:
        for i, start in enumerate(range(0, len(self.body), self.chunk)):
            if self.fail_after is not None and i >= self.fail_after:
                raise APIConnectionError("connection reset")
            yield self.body[start : start + self.chunk]

    def close(self) -> None:
        self.closed = True


class FakeClient:
    def __init__(self, response: FakeResponse | Exception) -> None:
        self.response = response
        self.fetched: list[tuple[str, dict[str, Any]]] = []
        self.meta = self

    def fetch_url(self, url: str, **kwargs: Any) -> FakeResponse:
        self.fetched.append((url, kwargs))
        if isinstance(self.response, Exception):
            raise self.response
        return self.response


class FakeRest:
    """RestClient.get_checkpoint_archive_url_from_tinker_path plus holder.client.meta.fetch_url."""

    def __init__(self, response: FakeResponse | Exception) -> None:
        self.holder = type("Holder", (), {})()
        self.holder.client = FakeClient(response)
        self.asked: list[str] = []

    def get_checkpoint_archive_url_from_tinker_path(self, path: str) -> Any:
        self.asked.append(path)
        return resolved(CheckpointArchiveUrlResponse(url="http://127.0.0.1:9/archive/abc"))


ARCHIVE = make_tar([("adapter", None), ("adapter/weights.npz", b"W" * 2500), ("checkpoint_complete", b"")])


def test_the_target_directory_flattens_the_path(tmp_path: Path) -> None:
    assert target_directory(PATH, tmp_path) == tmp_path / "run-7_weights_step-3"
    with pytest.raises(ValidationError):
        target_directory("s3://bucket/x", tmp_path)


def test_download_streams_reports_progress_and_extracts(tmp_path: Path) -> None:
    rest = FakeRest(FakeResponse(200, ARCHIVE))
    seen: list[tuple[int, int]] = []
    result = download_checkpoint(rest, PATH, output_dir=tmp_path, progress=lambda d, t: seen.append((d, t)))
    target = tmp_path / "run-7_weights_step-3"
    assert result.destination == target and result.checkpoint_path == PATH
    assert (target / "adapter" / "weights.npz").read_bytes() == b"W" * 2500
    assert (target / "checkpoint_complete").exists()
    assert seen[-1] == (len(ARCHIVE), len(ARCHIVE)) and len(seen) == -(-len(ARCHIVE) // 1000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    url, kwargs = rest.holder.client.fetched[0]
    assert url.endswith("/archive/abc") and kwargs["stream"] is True
    assert rest.holder.client.response.closed
    assert not list(tmp_path.glob("tinkex_checkpoint_*"))  # the temporary archive is gone


def test_no_progress_without_a_content_length(tmp_path: Path) -> None:
    seen: list[Any] = []
    download_checkpoint(FakeRest(FakeResponse(200, ARCHIVE, length=None)), PATH, output_dir=tmp_path,
                        progress=lambda d, t: seen.append(d))
    assert seen == [] and (tmp_path / "run-7_weights_step-3" / "checkpoint_complete").exists()


def test_an_existing_target_needs_force(tmp_path: Path) -> None:
    target = tmp_path / "run-7_weights_step-3"
    target.mkdir()
    (target / "old.txt").write_text("old")
    rest = FakeRest(FakeResponse(200, ARCHIVE))
    with pytest.raises(CheckpointDownloadError) as info:
        download_checkpoint(rest, PATH, output_dir=tmp_path)
    assert info.value.reason == "exists" and rest.asked == []  # nothing requested
    download_checkpoint(rest, PATH, output_dir=tmp_path, force=True)
    assert not (target / "old.txt").exists() and (target / "checkpoint_complete").exists()


def test_an_invalid_path_fails_before_any_request(tmp_path: Path) -> None:
    rest = FakeRest(FakeResponse(200, ARCHIVE))
    with pytest.raises(ValidationError):
        download_checkpoint(rest, "tinker://only-run", output_dir=tmp_path)
    assert rest.asked == []


@pytest.mark.parametrize(
    "response",
    [FakeResponse(404, b"not here"), FakeResponse(200, ARCHIVE, length=len(ARCHIVE) + 10),
     FakeResponse(200, ARCHIVE, fail_after=1), APIConnectionError("refused")],
    ids=["404", "truncated", "reset", "unreachable"],
)
def test_download_failures(response: Any, tmp_path: Path) -> None:
    with pytest.raises(CheckpointDownloadError) as info:
        download_checkpoint(FakeRest(response), PATH, output_dir=tmp_path)
    assert info.value.reason == "download_failed"
    if isinstance(response, FakeResponse) and response.status_code == 404:
        assert info.value.status == 404
    assert list(tmp_path.iterdir()) == []  # no target, no temporary archive


@pytest.mark.parametrize(
    "archive",
    [
        make_tar([("../escape.txt", b"x")]),
        make_tar([("/etc/evil", b"x")]),
        make_tar([("ok.txt", b"x"), ("a/../../b.txt", b"x")]),
        make_tar([("ok.txt", b"x")], link=("link", "/etc/passwd")),
        b"this is not a tar archive",
    ],
    ids=["dotdot", "absolute", "nested-dotdot", "symlink", "garbage"],
)
def test_unsafe_or_broken_archives_are_rejected(archive: bytes, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(CheckpointDownloadError) as info:
        download_checkpoint(FakeRest(FakeResponse(200, archive)), PATH, output_dir=out)
    assert info.value.reason == "extraction_failed"
    assert list(out.iterdir()) == []  # target removed, temporary archive removed
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "b.txt").exists()


def test_extract_checks_every_member_before_writing(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    archive.write_bytes(make_tar([("first.txt", b"1"), ("../second.txt", b"2")]))
    with pytest.raises(ValueError):
        extract_archive(archive, tmp_path / "dest")
    assert not (tmp_path / "dest" / "first.txt").exists()


def test_compressed_archives_extract(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("x/y.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    assert extract_archive(archive, tmp_path / "d") == [tmp_path / "d" / "x" / "y.txt"]


# ---------------------------------------------------------------------------- against the emulator


def test_download_from_the_emulator(service: ServiceClient, tmp_path: Path) -> None:
    client = service.create_lora_training_client(BASE_MODEL, rank=2)
    path = client.save_state("dl").result().path
    rest = service.create_rest_client()
    seen: list[tuple[int, int]] = []
    result = download_checkpoint(rest, path, output_dir=tmp_path, progress=lambda d, t: seen.append((d, t)))
    files = {p.name for p in result.destination.iterdir()}
    assert "checkpoint_complete" in files and any(name.endswith(".npz") for name in files)
    assert seen and seen[-1][0] == seen[-1][1] == result.bytes_downloaded
    with pytest.raises(NotFoundError):
        download_checkpoint(rest, f"tinker://{client.model_id}/weights/nope", output_dir=tmp_path)
