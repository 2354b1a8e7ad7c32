"""Training models: creation, ordered training operations, checkpoints, unload and runs."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from .checkpoints import CheckpointRecord, CheckpointStore, check_name, parse_tinker_path
from .clock import iso_utc
from .errors import ApiError, OpFailure
from .runtime import Runtime
from .sampling import SamplingService
from .sequencer import ModelSequencer, SeqOp, SeqSlot
from .sessions import SessionRegistry
from .wire import AdamArgs, LossSpec, encode_forward_result

ARCH = "tinkex-tiny-lm"
TOKENIZER_ID = "tinkex/byte-level"
Work = Callable[["ModelRecord"], dict[str, Any]]


def lora_json(lora: Any) -> dict[str, Any]:
    """A LoraSpec as plain JSON."""
    return {"rank": lora.rank, "seed": lora.seed, "train_mlp": lora.train_mlp,
            "train_attn": lora.train_attn, "train_unembed": lora.train_unembed}


@attrs.define
class ModelRecord:
    """A training model (= training run). ``lm`` is set once creation (seq 0) has run."""

    model_id: str
    session_id: str | None
    base_model: str
    lora: Any
    user_metadata: dict[str, Any] | None
    created_at: float
    sequencer: ModelSequencer | None
    last_request_time: float
    lm: Any = None
    status: str = "creating"  # creating | ready | failed | unloaded
    failure: str | None = None


class TrainingService:
    """Owns every training model and runs its operations through its sequencer."""

    def __init__(self, runtime: Runtime, sessions: SessionRegistry, checkpoints: CheckpointStore,
                 samplers: SamplingService, gap_timeout_s: float) -> None:
        self._rt = runtime
        self._sessions = sessions
        self._checkpoints = checkpoints
        self._samplers = samplers
        self._gap_timeout_s = gap_timeout_s
        self._lock = threading.Lock()
        self._models: dict[str, ModelRecord] = {}

    # ----------------------------------------------------------------- lookup
    def model(self, model_id: str, *, live: bool = True) -> ModelRecord:
        """A known model (404 otherwise); ``live`` also requires a loaded model and live session."""
        with self._lock:
            rec = self._models.get(model_id)
        if rec is None:
            raise ApiError(404, f"unknown model_id {model_id!r}", field="model_id", category="user")
        if live:
            if rec.status == "unloaded" or rec.sequencer is None:
                raise ApiError(404, f"model {model_id!r} was unloaded", field="model_id",
                               category="user")
            if rec.session_id is not None:
                self._sessions.require(rec.session_id, "model_id")
        return rec

    def adopt_session(self, old_session_id: str, new_session_id: str) -> list[str]:
        """Move the models of ``old_session_id`` to ``new_session_id`` (session recovery)."""
        with self._lock:
            moved = [rec for rec in self._models.values() if rec.session_id == old_session_id]
            for rec in moved:
                rec.session_id = new_session_id
        return [rec.model_id for rec in moved]

    def models(self) -> list[ModelRecord]:
        """Every model, newest first."""
        with self._lock:
            return list(reversed(self._models.values()))

    def _schedule(self, fn: Callable[[], None]) -> None:
        self._rt.executor.submit(fn)

    def _sequencer(self, rec: ModelRecord) -> ModelSequencer:
        assert rec.sequencer is not None
        return rec.sequencer

    # --------------------------------------------------------------- creation
    def _register(self, session_id: str, model_seq_id: int, base_model: str, lora: Any,
                  user_metadata: dict[str, Any] | None) -> tuple[ModelRecord, bool]:
        self._sessions.require(session_id)
        model_id = f"{session_id}:train:{model_seq_id}"
        now = self._rt.clock()
        with self._lock:
            known = self._models.get(model_id)
            if known is not None:
                return known, False
            seq = ModelSequencer(self._schedule, self._rt.clock, self._gap_timeout_s)
            rec = self._models[model_id] = ModelRecord(model_id, session_id, base_model, lora,
                                                       user_metadata, now, seq, now)
        self._sessions.add_training_run(session_id, model_id)
        return rec, True

    def _create_op(self, rec: ModelRecord, endpoint: str, load: CheckpointRecord | None,
                   with_optimizer: bool) -> str:
        backend = self._rt.backend

        def work(_: ModelRecord) -> dict[str, Any]:
            try:
                lm = backend.TinyLM.create(rec.base_model, rec.lora)
                result: dict[str, Any] = {"model_id": rec.model_id, "type": "create_model"}
                if load is not None:
                    self._load_into(lm, load, with_optimizer)
                    result = {"model_id": rec.model_id, "path": load.tinker_path, "type": "load_weights"}
            except Exception as exc:
                rec.status, rec.failure = "failed", str(exc)
                raise
            rec.lm, rec.status = lm, "ready"
            return result

        slot, _ = self._sequencer(rec).submit(0, self._op_factory(rec, endpoint, work), record=False)
        assert slot.request_id is not None
        return slot.request_id

    def create_model(self, session_id: str, model_seq_id: int, base_model: str, lora: Any,
                     user_metadata: dict[str, Any] | None) -> tuple[str, str]:
        """create_model → (model_id, request_id); a resend returns the original pair."""
        rec, _ = self._register(session_id, model_seq_id, base_model, lora, user_metadata)
        return rec.model_id, self._create_op(rec, "create_model", None, False)

    def create_from_checkpoint(self, session_id: str, model_seq_id: int, base_model: str | None,
                               path: str, with_optimizer: bool,
                               user_metadata: dict[str, Any] | None) -> tuple[str, str]:
        """load_weights addressed by session: a new model initialised from a checkpoint."""
        record = self._checkpoints.get(*parse_tinker_path(path))
        lora = self._rt.backend.LoraSpec(**record.model["lora"])
        rec, _ = self._register(session_id, model_seq_id, base_model or record.model["base_model"],
                                lora, user_metadata)
        return rec.model_id, self._create_op(rec, "load_weights", record, with_optimizer)

    # ------------------------------------------------------- ordered operations
    def _op_factory(self, rec: ModelRecord, endpoint: str, work: Work) -> Callable[[SeqSlot], SeqOp]:
        futures = self._rt.futures

        def make(slot: SeqSlot) -> SeqOp:
            request_id = futures.create(endpoint, self._sequencer(rec).check_gap)
            slot.request_id = request_id

            def run() -> bool:
                rec.last_request_time = self._rt.clock()
                if slot.seq_id != 0 and rec.lm is None:
                    why = rec.failure or rec.status
                    futures.fail(request_id, f"model {rec.model_id} is not usable ({why})", "user")
                    return False
                return self._rt.execute(request_id, endpoint, lambda: work(rec))

            return SeqOp(slot, run, lambda msg, cat: futures.fail(request_id, msg, cat))

        return make

    def submit(self, model_id: str, seq_id: int, endpoint: str, work: Work | ApiError) -> str:
        """Queue a training op (or record a rejected one, then raise its 400)."""
        rec = self.model(model_id)
        if seq_id < 1:
            raise ApiError(400, "seq_id: training operations start at seq_id 1 (0 is the model's "
                           "creation)", field="seq_id", category="user")
        if isinstance(work, ApiError):
            error = work

            def rejected(slot: SeqSlot) -> SeqOp:
                slot.error = error
                return SeqOp(slot, lambda: False, lambda msg, cat: None)

            slot, _ = self._sequencer(rec).submit(seq_id, rejected)
        else:
            slot, _ = self._sequencer(rec).submit(seq_id, self._op_factory(rec, endpoint, work))
        if slot.error is not None:
            raise slot.error
        assert slot.request_id is not None
        return slot.request_id

    # --------------------------------------------------------------- op bodies
    @staticmethod
    def forward_work(datums: list[Any], loss: LossSpec, backward: bool) -> Work:
        """forward / forward_backward."""
        def work(rec: ModelRecord) -> dict[str, Any]:
            result = rec.lm.forward_backward(datums, loss.loss_fn, loss.config or None, backward)
            return encode_forward_result(result)
        return work

    @staticmethod
    def optim_work(adam: AdamArgs) -> Work:
        """optim_step."""
        def work(rec: ModelRecord) -> dict[str, Any]:
            metrics = rec.lm.optim_step(**attrs.asdict(adam))
            return {"metrics": {k: float(v) for k, v in metrics.items()}, "type": "optim_step"}
        return work

    def _split_state(self, rec: ModelRecord) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        weights = rec.lm.state_dict(with_optimizer=False)
        full = rec.lm.state_dict(with_optimizer=True)
        return weights, {k: v for k, v in full.items() if k not in weights}

    def _meta(self, rec: ModelRecord) -> dict[str, Any]:
        return {"base_model": rec.base_model, "lora": lora_json(rec.lora)}

    def save_work(self, name: str, ttl_seconds: int | None, overwrite: bool) -> Work:
        """save_weights: weights + optimizer state as a training checkpoint."""
        check_name(name)

        def work(rec: ModelRecord) -> dict[str, Any]:
            weights, optimizer = self._split_state(rec)
            record = self._checkpoints.save(rec.model_id, "weights", name, weights, optimizer,
                                            rec.lm.adapter_config(), self._meta(rec), ttl_seconds,
                                            overwrite)
            return {"path": record.tinker_path, "type": "save_weights"}
        return work

    def save_for_sampler_work(self, name: str | None, sampler_seq: int | None,
                              ttl_seconds: int | None, overwrite: bool, inflight: bool = False) -> Work:
        """save_weights_for_sampler: a named sampler checkpoint and/or an ephemeral sampler."""
        if name is not None:
            check_name(name)

        def work(rec: ModelRecord) -> dict[str, Any]:
            weights = rec.lm.state_dict(with_optimizer=False)
            out: dict[str, Any] = {"type": "save_weights_for_sampler"}
            path = None
            if name is not None:
                record = self._checkpoints.save(rec.model_id, "sampler_weights", name, weights, None,
                                                rec.lm.adapter_config(), self._meta(rec),
                                                ttl_seconds, overwrite)
                path = out["path"] = record.tinker_path
            if sampler_seq is not None:
                if rec.session_id is None:
                    raise OpFailure("this model has no session")
                sampler = self._samplers.create_from_weights(rec.session_id, sampler_seq,
                                                             rec.base_model, rec.lora, weights, path,
                                                             rec.model_id if inflight else None)
                out["sampling_session_id"] = sampler.sampler_id
            return out
        return work

    def save_external_work(self, name: str, ttl_seconds: int | None) -> Work:
        """save_weights_external: the weights (no optimizer state) as an ``external_weights``
        checkpoint whose files are downloaded through signed per-file URLs."""
        check_name(name)

        def work(rec: ModelRecord) -> dict[str, Any]:
            weights = rec.lm.state_dict(with_optimizer=False)
            record = self._checkpoints.save(rec.model_id, "external_weights", name, weights, None,
                                            rec.lm.adapter_config(), self._meta(rec), ttl_seconds, True)
            return {"path": record.tinker_path, "size_bytes": record.size_bytes,
                    "type": "save_weights_external"}
        return work

    def register_copy(self, source: CheckpointRecord, session_id: str | None) -> str:
        """A new read-only training run to hold a copied checkpoint; returns its id."""
        backend = self._rt.backend
        now = self._rt.clock()
        run_id = f"copy-{uuid.uuid4().hex[:12]}:train:0"
        rec = ModelRecord(run_id, session_id, source.model["base_model"],
                          backend.LoraSpec(**source.model["lora"]), None, now, None, now,
                          status="unloaded")
        with self._lock:
            self._models[run_id] = rec
        if session_id is not None:
            self._sessions.add_training_run(session_id, run_id)
        return run_id

    def _load_into(self, lm: Any, record: CheckpointRecord, with_optimizer: bool) -> None:
        weights, optimizer = self._checkpoints.read(record, with_optimizer)
        lm.load_state_dict({**weights, **(optimizer or {})}, with_optimizer=with_optimizer)

    def load_work(self, path: str, with_optimizer: bool) -> Work:
        """load_weights into an existing model (the checkpoint is looked up when it runs)."""
        key = parse_tinker_path(path)

        def work(rec: ModelRecord) -> dict[str, Any]:
            try:
                record = self._checkpoints.get(*key)
            except ApiError as exc:
                raise OpFailure(exc.message) from None
            self._load_into(rec.lm, record, with_optimizer)
            return {"path": record.tinker_path, "type": "load_weights"}
        return work

    # ------------------------------------------------------------ unordered ops
    def unload(self, model_id: str) -> str:
        """Drop the model; operations not yet started fail. Returns the future's request id."""
        rec = self.model(model_id)
        seq = self._sequencer(rec)
        seq.close(f"model {model_id!r} was unloaded")

        def job() -> dict[str, Any]:
            with seq.exec_lock:
                rec.lm, rec.status = None, "unloaded"
            return {"model_id": model_id, "type": "unload_model"}
        return self._rt.submit("unload_model", job)

    def info(self, model_id: str) -> dict[str, Any]:
        """GetInfoResponse."""
        rec = self.model(model_id)
        return {"model_id": rec.model_id, "model_name": rec.base_model, "is_lora": True,
                "lora_rank": rec.lora.rank, "type": "get_info",
                "model_data": {"arch": ARCH, "model_name": rec.base_model,
                               "tokenizer_id": TOKENIZER_ID}}

    def run_json(self, rec: ModelRecord) -> dict[str, Any]:
        """TrainingRun."""
        last = self._checkpoints.latest(rec.model_id, "weights")
        last_sampler = self._checkpoints.latest(rec.model_id, "sampler_weights")
        return {"training_run_id": rec.model_id, "base_model": rec.base_model,
                "model_owner": "emulator-user", "is_lora": True, "lora_rank": rec.lora.rank,
                "corrupted": rec.status == "failed", "last_request_time": iso_utc(rec.last_request_time),
                "last_checkpoint": None if last is None else last.to_json(),
                "last_sampler_checkpoint": None if last_sampler is None else last_sampler.to_json(),
                "user_metadata": rec.user_metadata}

    def adopt(self, records: list[CheckpointRecord]) -> None:
        """Training runs for checkpoints found on disk at start-up (read-only, unloaded)."""
        backend = self._rt.backend
        with self._lock:
            for record in sorted(records, key=lambda r: r.created_at):
                if record.run_id not in self._models:
                    self._models[record.run_id] = ModelRecord(
                        record.run_id, None, record.model["base_model"],
                        backend.LoraSpec(**record.model["lora"]), None, record.created_at, None,
                        record.created_at, status="unloaded")

    def check_gaps(self) -> None:
        """Apply the sequence-gap timeout to every model now."""
        for rec in self.models():
            if rec.sequencer is not None:
                rec.sequencer.check_gap()
