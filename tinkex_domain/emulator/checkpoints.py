"""Checkpoints as real files under ``<state_dir>/checkpoints``, with TTL, publish flag, archives.

Layout of one checkpoint directory ``<run_id>/<weights|sampler_weights>/<name>/`` (names
percent-quoted): ``weights.npz`` (LoRA weights), ``optimizer.npz`` (Adam state; training
checkpoints only), ``adapter_config.json``, ``checkpoint.json`` (metadata) and the completion
marker ``checkpoint_complete`` written last. Files are written into a temporary directory and
renamed into place, so a half-written checkpoint is never visible.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import attrs
import numpy as np

from .clock import Clock, iso_utc
from .errors import ApiError, OpFailure, bad_field

KINDS = {"weights": "training", "sampler_weights": "sampler", "external_weights": "external"}
MARKER = "checkpoint_complete"
ARCHIVE_FILES = ("weights.npz", "optimizer.npz", "adapter_config.json", "checkpoint.json", MARKER)


def parse_tinker_path(path: str, field: str = "path") -> tuple[str, str, str]:
    """``tinker://<run_id>/<weights|sampler_weights>/<name>`` → (run_id, kind, name)."""
    if not path.startswith("tinker://"):
        raise bad_field(field, f"must start with tinker://, got {path!r}")
    parts = path[len("tinker://"):].split("/")
    if len(parts) != 3 or not all(parts):
        raise bad_field(field, "must look like tinker://<run_id>/<weights|sampler_weights|external_weights>/<name>")
    if parts[1] not in KINDS:
        raise bad_field(field, "checkpoint kind must be weights, sampler_weights or external_weights, "
                               f"got {parts[1]!r}")
    return parts[0], parts[1], parts[2]


def check_name(name: str, field: str = "path") -> str:
    """A checkpoint name: non-empty, no '/', not '.' or '..'."""
    if not name or "/" in name or name in (".", "..") or len(name) > 200 or not name.isprintable():
        raise bad_field(field, f"invalid checkpoint name {name!r} (no '/', at most 200 characters)")
    return name


@attrs.define
class CheckpointRecord:
    """Metadata of one stored checkpoint."""

    run_id: str
    kind: str
    name: str
    created_at: float
    size_bytes: int
    directory: Path
    adapter_config: dict[str, Any]
    model: dict[str, Any]  # {"base_model": str, "lora": {rank, seed, train_mlp, train_attn, train_unembed}}
    public: bool = False
    expires_at: float | None = None

    @property
    def checkpoint_id(self) -> str:
        """``weights/<name>`` or ``sampler_weights/<name>``."""
        return f"{self.kind}/{self.name}"

    @property
    def tinker_path(self) -> str:
        """``tinker://<run_id>/<kind>/<name>``."""
        return f"tinker://{self.run_id}/{self.kind}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        """The Checkpoint wire object."""
        return {
            "checkpoint_id": self.checkpoint_id,
            "checkpoint_type": KINDS[self.kind],
            "tinker_path": self.tinker_path,
            "training_run_id": self.run_id,
            "time": iso_utc(self.created_at),
            "size_bytes": self.size_bytes,
            "public": self.public,
            "expires_at": None if self.expires_at is None else iso_utc(self.expires_at),
        }

    def meta(self) -> dict[str, Any]:
        """What ``checkpoint.json`` holds."""
        return {"run_id": self.run_id, "kind": self.kind, "name": self.name,
                "created_at": self.created_at, "public": self.public,
                "expires_at": self.expires_at, "adapter_config": self.adapter_config,
                "model": self.model}


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub mistypes **kwds


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


class CheckpointStore:
    """Registry + files of every checkpoint; thread-safe."""

    def __init__(self, root: Path, clock: Clock) -> None:
        self._root = root
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str, str], CheckpointRecord] = {}
        self._tmp = root / ".tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def _dir(self, run_id: str, kind: str, name: str) -> Path:
        return self._root / quote(run_id, safe="") / kind / quote(name, safe="")

    def load_existing(self) -> list[CheckpointRecord]:
        """Register every complete checkpoint already on disk (a reused state dir)."""
        found = []
        for meta_path in sorted(self._root.glob("*/*/*/checkpoint.json")):
            directory = meta_path.parent
            if not (directory / MARKER).exists():
                continue
            meta = json.loads(meta_path.read_text())
            size = sum(p.stat().st_size for p in directory.iterdir() if p.is_file())
            record = CheckpointRecord(meta["run_id"], meta["kind"], meta["name"], meta["created_at"],
                                      size, directory, meta["adapter_config"], meta["model"],
                                      bool(meta["public"]),
                                      meta.get("expires_at"))
            with self._lock:
                self._records[(record.run_id, record.kind, record.name)] = record
            found.append(record)
        return found

    def save(self, run_id: str, kind: str, name: str, weights: dict[str, np.ndarray],
             optimizer: dict[str, np.ndarray] | None, adapter_config: dict[str, Any],
             model: dict[str, Any], ttl_seconds: int | None, overwrite: bool) -> CheckpointRecord:
        """Write a checkpoint atomically and register it."""
        key = (run_id, kind, name)
        now = self._clock()
        with self._lock:
            self._sweep_locked(now)
            if key in self._records and not overwrite:
                raise OpFailure(f"checkpoint tinker://{run_id}/{kind}/{name} already exists "
                                "(send overwrite=true to replace it)")
        work = self._tmp / uuid.uuid4().hex
        work.mkdir()
        _save_npz(work / "weights.npz", weights)
        if optimizer is not None:
            _save_npz(work / "optimizer.npz", optimizer)
        (work / "adapter_config.json").write_text(json.dumps(adapter_config, indent=2))
        expires = None if ttl_seconds is None else now + ttl_seconds
        record = CheckpointRecord(run_id, kind, name, now, 0, self._dir(*key), adapter_config,
                                  model, False, expires)
        (work / "checkpoint.json").write_text(json.dumps(record.meta(), indent=2))
        (work / MARKER).write_text(iso_utc(now) + "\n")
        record.size_bytes = sum(p.stat().st_size for p in work.iterdir())
        with self._lock:
            old = self._records.pop(key, None)
            trash = None
            if record.directory.exists():
                trash = self._tmp / f"old-{uuid.uuid4().hex}"
                record.directory.rename(trash)
            record.directory.parent.mkdir(parents=True, exist_ok=True)
            work.rename(record.directory)
            if old is not None:
                record.public = old.public
            self._records[key] = record
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        return record

    def _sweep_locked(self, now: float) -> None:
        for key, record in list(self._records.items()):
            if record.expires_at is not None and now >= record.expires_at:
                del self._records[key]
                shutil.rmtree(record.directory, ignore_errors=True)

    def sweep(self) -> None:
        """Delete every checkpoint whose TTL has passed."""
        with self._lock:
            self._sweep_locked(self._clock())

    def get(self, run_id: str, kind: str, name: str) -> CheckpointRecord:
        """A live checkpoint or a 404."""
        with self._lock:
            self._sweep_locked(self._clock())
            record = self._records.get((run_id, kind, name))
        if record is None:
            raise ApiError(404, f"checkpoint tinker://{run_id}/{kind}/{name} not found",
                           category="user")
        return record

    def read(self, record: CheckpointRecord,
             with_optimizer: bool) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
        """(weights, optimizer state or None) of a checkpoint."""
        if not (record.directory / MARKER).exists():
            raise OpFailure(f"checkpoint {record.tinker_path} is incomplete", "server")
        weights = _load_npz(record.directory / "weights.npz")
        optimizer = None
        if with_optimizer:
            opt_path = record.directory / "optimizer.npz"
            if not opt_path.exists():
                raise OpFailure(f"checkpoint {record.tinker_path} holds no optimizer state "
                                "(sampler checkpoints never do); load it with optimizer=false")
            optimizer = _load_npz(opt_path)
        return weights, optimizer

    def list(self, run_id: str | None = None) -> list[CheckpointRecord]:
        """Checkpoints (of one run, or all), newest first."""
        with self._lock:
            self._sweep_locked(self._clock())
            records = [r for r in self._records.values() if run_id is None or r.run_id == run_id]
        return sorted(records, key=lambda r: r.created_at, reverse=True)

    def latest(self, run_id: str, kind: str) -> CheckpointRecord | None:
        """The newest checkpoint of a kind for a run."""
        return next((r for r in self.list(run_id) if r.kind == kind), None)

    def delete(self, run_id: str, kind: str, name: str) -> None:
        """Remove a checkpoint and its files."""
        record = self.get(run_id, kind, name)
        with self._lock:
            self._records.pop((run_id, kind, name), None)
        shutil.rmtree(record.directory, ignore_errors=True)

    def update(self, run_id: str, kind: str, name: str, *, public: bool | None = None,
               ttl_seconds: int | None = None, clear_ttl: bool = False) -> CheckpointRecord:
        """Change the publish flag and/or TTL and persist the metadata."""
        record = self.get(run_id, kind, name)
        with self._lock:
            if public is not None:
                record.public = public
            if clear_ttl:
                record.expires_at = None
            elif ttl_seconds is not None:
                record.expires_at = self._clock() + ttl_seconds
            (record.directory / "checkpoint.json").write_text(json.dumps(record.meta(), indent=2))
        return record

    def archive(self, record: CheckpointRecord) -> tuple[IO[bytes], int]:
        """A tar of the checkpoint's files in a temporary file (rewound) and its size."""
        import tarfile

        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)
        with tarfile.open(fileobj=spool, mode="w") as tar:
            for name in ARCHIVE_FILES:
                path = record.directory / name
                if path.exists():
                    tar.add(path, arcname=name)
        size = spool.tell()
        spool.seek(0)
        return spool, size  # type: ignore[return-value]


def iter_file(fh: IO[bytes], chunk: int = 64 << 10) -> Iterator[bytes]:
    """Read a file in chunks, closing it at the end."""
    try:
        while True:
            block = fh.read(chunk)
            if not block:
                return
            yield block
    finally:
        fh.close()


class ArchiveLinks:
    """Short-lived unauthenticated download tokens (the emulator's "pre-signed URLs")."""

    def __init__(self, clock: Clock, ttl_s: float) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._links: dict[str, tuple[tuple[str, str, str], float]] = {}

    def issue(self, record: CheckpointRecord) -> tuple[str, float]:
        """A new token for the checkpoint and its expiry time."""
        token = uuid.uuid4().hex
        expires = self._clock() + self._ttl_s
        with self._lock:
            self._links[token] = ((record.run_id, record.kind, record.name), expires)
        return token, expires

    def resolve(self, token: str) -> tuple[str, str, str]:
        """The checkpoint key of a token; 404 unknown, 410 expired."""
        with self._lock:
            found = self._links.get(token)
        if found is None:
            raise ApiError(404, "unknown archive link", category="user")
        key, expires = found
        if self._clock() >= expires:
            raise ApiError(410, "archive link expired; request a new archive URL", category="user")
        return key
