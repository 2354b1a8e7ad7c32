"""Samplers (sampling sessions) and the asample / stream_sample operations."""

from __future__ import annotations

import codecs
import threading
import time
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np

from .checkpoints import CheckpointStore, parse_tinker_path
from .errors import ApiError, OpFailure, bad_field
from .fields import Fields, as_int, join_path
from .runtime import Runtime
from .sessions import SessionRegistry
from .wire import decode_model_input, decode_tensor, encode_tensor

MAX_SAMPLES = 128


@attrs.frozen
class SampleArgs:
    """A validated sampling request."""

    prompt: np.ndarray
    max_tokens: int
    temperature: float
    top_k: int
    top_p: float
    stop: list[list[int]] | None
    seed: int | None
    num_samples: int
    prompt_logprobs: bool
    topk_prompt_logprobs: int
    prompt_logprobs_last_n: int | None = None
    topk_sample_logprobs: int = 0
    prompt_alt_tokens_k: int = 0
    target_prompt_logprobs: np.ndarray | None = None  # [len(prompt), K] token ids, -1 = none


def _decode_targets(f: Fields, prompt: np.ndarray, vocab_size: int) -> np.ndarray | None:
    """``target_prompt_logprobs``: int64 ``[len(prompt), K]`` token ids, ``-1`` for none; row 0
    (no prediction for the first token) must be all ``-1``."""
    raw = f.raw("target_prompt_logprobs")
    if raw is None:
        return None
    arr = decode_tensor(raw, "target_prompt_logprobs", "target_prompt_logprobs")
    if arr.dtype.kind not in "iu" or arr.ndim != 2 or arr.shape[0] != prompt.size:
        raise bad_field("target_prompt_logprobs", f"must be an int64 tensor of shape [{prompt.size}, K]")
    if ((arr < -1) | (arr >= vocab_size)).any():
        raise bad_field("target_prompt_logprobs", f"token ids must be -1 or in [0, {vocab_size})")
    if (arr[0] != -1).any():
        raise bad_field("target_prompt_logprobs", "row 0 must be -1 (the first token has no logprob)")
    return arr


def _decode_stop(value: Any, path: str) -> list[list[int]] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise bad_field(path, "must be a string, an array of strings or an array of token ids")
    if all(isinstance(v, str) for v in value):
        if any(not v for v in value):
            raise bad_field(path, "stop strings must not be empty")
        return [list(v.encode("utf-8")) for v in value] or None
    return [[as_int(v, join_path(path, i))] for i, v in enumerate(value)] or None


def decode_sample_args(f: Fields, vocab_size: int, max_tokens_limit: int) -> SampleArgs:
    """Validate an asample/stream_sample body (prompt, sampling_params, logprob options)."""
    prompt = decode_model_input(f.req_obj("prompt"), vocab_size)
    if prompt.size == 0:
        raise bad_field("prompt.chunks", "the prompt must hold at least one token")
    sp = f.req_obj("sampling_params")
    max_tokens = sp.int_("max_tokens", 16, minimum=1)
    assert max_tokens is not None
    if max_tokens > max_tokens_limit:
        raise bad_field(sp.sub("max_tokens"), f"must be <= {max_tokens_limit}")
    temperature = sp.float_("temperature", 1.0)
    if temperature < 0:
        raise bad_field(sp.sub("temperature"), "must be >= 0")
    top_k = sp.int_("top_k", -1)
    assert top_k is not None
    if top_k == 0 or top_k < -1:
        raise bad_field(sp.sub("top_k"), "must be -1 (no limit) or >= 1")
    top_p = sp.float_("top_p", 1.0)
    if not 0 < top_p <= 1:
        raise bad_field(sp.sub("top_p"), "must be in (0, 1]")
    num_samples = f.int_("num_samples", 1, minimum=1)
    assert num_samples is not None
    if num_samples > MAX_SAMPLES:
        raise bad_field(f.sub("num_samples"), f"must be <= {MAX_SAMPLES}")
    topk = f.int_("topk_prompt_logprobs", 0, minimum=0)
    assert topk is not None
    topk_sample = f.int_("topk_sample_logprobs", 0, minimum=0) or 0
    alt_k = f.int_("prompt_alt_tokens_k", 0, minimum=0) or 0
    return SampleArgs(prompt, max_tokens, temperature, top_k, top_p,
                      _decode_stop(sp.raw("stop"), sp.sub("stop")), sp.int_("seed"), num_samples,
                      f.bool_("prompt_logprobs", False, nullable=False), topk,
                      f.int_("prompt_logprobs_last_n", None, minimum=1), topk_sample, alt_k,
                      _decode_targets(f, prompt, vocab_size))


@attrs.define
class Sampler:
    """A sampling session: a model snapshot that only samples (one call at a time)."""

    sampler_id: str
    session_id: str | None
    base_model: str
    model_path: str | None
    lm: Any
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def to_json(self) -> dict[str, Any]:
        """GetSamplerResponse."""
        out: dict[str, Any] = {"sampler_id": self.sampler_id, "base_model": self.base_model}
        if self.model_path is not None:
            out["model_path"] = self.model_path
        return out


class SamplingService:
    """Creates samplers and serves sampling requests."""

    def __init__(self, runtime: Runtime, sessions: SessionRegistry, checkpoints: CheckpointStore) -> None:
        self._rt = runtime
        self._sessions = sessions
        self._checkpoints = checkpoints
        self._lock = threading.Lock()
        self._inflight: dict[str, tuple[Any, threading.Lock]] = {}
        self._samplers: dict[str, Sampler] = {}

    def _build(self, base_model: str, model_path: str | None, field: str) -> tuple[str, Any]:
        backend = self._rt.backend
        if model_path is None:
            return base_model, backend.TinyLM.create(base_model, backend.LoraSpec(rank=1))
        record = self._checkpoints.get(*parse_tinker_path(model_path, field))
        meta = record.model
        lm = backend.TinyLM.create(meta["base_model"], backend.LoraSpec(**meta["lora"]))
        weights, _ = self._checkpoints.read(record, with_optimizer=False)
        lm.load_state_dict(weights, with_optimizer=False)
        return meta["base_model"], lm

    def create(self, session_id: str, seq: int, base_model: str | None, model_path: str | None) -> Sampler:
        """create_sampling_session: ``{session_id}:sample:{seq}`` (resending returns the same)."""
        self._sessions.require(session_id)
        sampler_id = f"{session_id}:sample:{seq}"
        with self._lock:
            known = self._samplers.get(sampler_id)
        if known is not None:
            return known
        if base_model is None and model_path is None:
            raise bad_field("base_model", "one of base_model or model_path is required")
        name, lm = self._build(base_model or "", model_path, "model_path")
        sampler = Sampler(sampler_id, session_id, name, model_path, lm)
        with self._lock:
            sampler = self._samplers.setdefault(sampler_id, sampler)
        self._sessions.add_sampler(session_id, sampler_id)
        return sampler

    def create_from_weights(self, session_id: str, seq: int, base_model: str, lora: Any,
                            weights: dict[str, np.ndarray], model_path: str | None,
                            inflight_of: str | None = None) -> Sampler:
        """A sampler over a training model's current weights (save_weights_for_sampler).

        ``inflight_of`` (a model id) makes it an inflight sampler: every inflight sampler of that
        model shares one set of weights, which each inflight save replaces (they all see it)."""
        sampler_id = f"{session_id}:sample:{seq}"
        backend = self._rt.backend
        if inflight_of is None:
            lm = backend.TinyLM.create(base_model, lora)
            lm.load_state_dict(weights, with_optimizer=False)
            lock = threading.Lock()
        else:
            with self._lock:
                shared = self._inflight.get(inflight_of)
                if shared is None:
                    shared = self._inflight[inflight_of] = (backend.TinyLM.create(base_model, lora),
                                                            threading.Lock())
            lm, lock = shared
            with lock:  # publish: samples already running finish on the old weights
                lm.load_state_dict(weights, with_optimizer=False)
        with self._lock:
            if sampler_id in self._samplers:
                raise OpFailure(f"sampling_session_seq_id {seq} is already used by {sampler_id}")
            sampler = self._samplers[sampler_id] = Sampler(sampler_id, session_id, base_model,
                                                           model_path, lm, lock)
        self._sessions.add_sampler(session_id, sampler_id)
        return sampler

    def get(self, sampler_id: str, field: str = "sampler_id") -> Sampler:
        """A known sampler or a 404."""
        with self._lock:
            sampler = self._samplers.get(sampler_id)
        if sampler is None:
            raise ApiError(404, f"unknown sampler {sampler_id!r}", field=field, category="user")
        return sampler

    def resolve(self, f: Fields) -> Sampler:
        """The sampler a sample request addresses: session id, else model_path, else base_model."""
        sampler_id = f.str_("sampling_session_id")
        if sampler_id is not None:
            sampler = self.get(sampler_id, "sampling_session_id")
            if sampler.session_id is not None:
                self._sessions.require(sampler.session_id, "sampling_session_id")
            return sampler
        model_path, base_model = f.str_("model_path"), f.str_("base_model")
        if model_path is None and base_model is None:
            raise bad_field("sampling_session_id",
                            "one of sampling_session_id, model_path or base_model is required")
        key = f"adhoc:{model_path}" if model_path is not None else f"adhoc-base:{base_model}"
        with self._lock:
            known = self._samplers.get(key)
        if known is not None:
            return known
        name, lm = self._build(base_model or "", model_path, "model_path")
        with self._lock:
            return self._samplers.setdefault(key, Sampler(key, None, name, model_path, lm))

    def _extras(self, lm: Any, args: SampleArgs, seqs: list[Any]) -> dict[str, Any]:
        """tinker 0.38's extra logprob outputs, all from the model's temperature-1 distribution."""
        out: dict[str, Any] = {}
        n = args.prompt.size
        if args.topk_sample_logprobs > 0:
            out["topk_logprobs"] = [
                lm.topk_prompt_logprobs(np.concatenate([args.prompt, np.asarray(seq.tokens, args.prompt.dtype)]),
                                        args.topk_sample_logprobs)[n:n + len(seq.tokens)]
                for seq in seqs]
        if args.prompt_alt_tokens_k > 0 and n > 1:
            rows = lm.topk_prompt_logprobs(args.prompt, args.prompt_alt_tokens_k)[1:]
            out["prompt_alt_tokens"] = {
                "tokens": encode_tensor(np.asarray([[t for t, _ in row] for row in rows], dtype=np.int64)),
                "logprobs": encode_tensor(np.asarray([[lp for _, lp in row] for row in rows], dtype=np.float32))}
        if args.target_prompt_logprobs is not None:
            targets = args.target_prompt_logprobs
            values = np.zeros(targets.shape, dtype=np.float32)
            if n > 1 and targets.shape[1] > 0:
                table = lm.topk_prompt_logprobs(args.prompt, self._rt.backend.VOCAB_SIZE)
                for i in range(1, n):
                    row = dict(table[i])
                    for j, token in enumerate(targets[i]):
                        if token >= 0:
                            values[i, j] = row[int(token)]
            out["target_prompt_logprobs"] = encode_tensor(values)
        return out

    def _sample(self, sampler: Sampler, args: SampleArgs) -> tuple[list[Any], Any, Any, dict[str, Any]]:
        with sampler.lock:
            seqs = sampler.lm.sample(args.prompt, max_tokens=args.max_tokens,
                                     temperature=args.temperature, top_k=args.top_k,
                                     top_p=args.top_p, stop=args.stop, seed=args.seed,
                                     num_samples=args.num_samples)
            plp = sampler.lm.prompt_logprobs(args.prompt) if args.prompt_logprobs else None
            if plp is not None and args.prompt_logprobs_last_n is not None:
                keep = len(plp) - args.prompt_logprobs_last_n
                plp = [None if i < keep else x for i, x in enumerate(plp)]
            topk = (sampler.lm.topk_prompt_logprobs(args.prompt, args.topk_prompt_logprobs)
                    if args.topk_prompt_logprobs > 0 else None)
            extras = self._extras(sampler.lm, args, seqs)
        return seqs, plp, topk, extras

    def asample(self, sampler: Sampler, args: SampleArgs) -> str:
        """Queue a sample; the future's result is a SampleResponse."""
        def job() -> dict[str, Any]:
            seqs, plp, topk, extras = self._sample(sampler, args)
            seq_topk = extras.pop("topk_logprobs", None)
            return {
                **extras,
                "type": "sample",
                "sequences": [{"tokens": [int(t) for t in s.tokens],
                               "logprobs": [float(x) for x in s.logprobs],
                               "stop_reason": s.stop_reason,
                               **({} if seq_topk is None else {"topk_logprobs": [
                                   [[int(t), float(lp)] for t, lp in row] for row in seq_topk[i]]})}
                              for i, s in enumerate(seqs)],
                "prompt_logprobs": None if plp is None else
                [None if x is None else float(x) for x in plp],
                "topk_prompt_logprobs": None if topk is None else
                [None if row is None else [[int(t), float(lp)] for t, lp in row] for row in topk],
            }
        return self._rt.submit("asample", job)

    def stream(self, sampler: Sampler, args: SampleArgs) -> Iterator[tuple[str, dict[str, Any]]]:
        """SSE events: ``token`` per generated token, then ``done`` (or ``error``)."""
        start = time.perf_counter()
        try:
            seq = self._sample(sampler, attrs.evolve(args, num_samples=1, prompt_logprobs=False, topk_sample_logprobs=0,
                                                     prompt_alt_tokens_k=0, target_prompt_logprobs=None,
                                                     topk_prompt_logprobs=0))[0][0]
        except self._rt.backend.UserInputError as exc:
            yield "error", {"error": str(exc), "category": "user"}
            return
        except Exception as exc:
            yield "error", {"error": f"internal emulator error: {exc}", "category": "server"}
            return
        finally:
            self._rt.stats.compute("stream_sample", time.perf_counter() - start)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for index, (token, logprob) in enumerate(zip(seq.tokens, seq.logprobs, strict=False)):
            text = decoder.decode(bytes([int(token)])) if 0 <= int(token) < 256 else ""
            yield "token", {"token": text, "token_id": int(token), "index": index,
                            "logprob": float(logprob)}
        yield "done", {"finish_reason": seq.stop_reason, "total_tokens": len(seq.tokens)}

    def adopt_session(self, old_session_id: str, new_session_id: str) -> list[str]:
        """Move the samplers of ``old_session_id`` to ``new_session_id`` (session recovery)."""
        with self._lock:
            moved = [smp for smp in self._samplers.values() if smp.session_id == old_session_id]
            for smp in moved:
                smp.session_id = new_session_id
        return [smp.sampler_id for smp in moved]

    def all(self) -> list[Sampler]:
        """Every sampler."""
        with self._lock:
            return list(self._samplers.values())
