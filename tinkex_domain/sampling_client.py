"""``SamplingClient``: sample from a base model or saved weights, as in the tinker SDK.

Dispatch throttling and 429 back-pressure come from the pool plugin (the manifest's ``sample``
pool), polling from the futures plugin, streaming from the streaming plugin. The client itself
only builds requests. It pickles: a copy in another process joins the same session.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from pristine_core import RequestOptions
from pristine_core.errors import PristineError, RequestFailedError, ValidationError
from pristine_runtime.secrets import Secret
from tinkex_domain._futures import APIFuture, mapped, typed
from tinkex_domain.holder import Holder, shadow_holder
from tinkex_domain.retry_config import DEFAULT_MAX_CONNECTIONS, RetryConfig, as_retry_config
from tinkex_domain.tokenizer import get_tokenizer
from tinkex_domain.types import ModelInput, SampleResponse, SampleStreamChunk, SamplingParams, TensorData
from tinkex_domain.types._common import check_vocab
from tinkex_domain.types.model_input import as_model_input

#: Unpickled copies number their requests from a random multiple of this (tinker's rule).
SHADOW_SEQ_STRIDE = 10**9


def _params(value: Any) -> SamplingParams:
    if isinstance(value, SamplingParams):
        return value
    if isinstance(value, Mapping):
        return SamplingParams(**value)
    raise ValidationError([("sampling_params", f"expected SamplingParams, got {type(value).__name__}")], "sample")


def _logprob_options(topk_sample: Any, target: Any, alt_k: Any, last_n: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in (("topk_sample_logprobs", topk_sample), ("prompt_alt_tokens_k", alt_k)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValidationError([(name, f"must be a non-negative integer, got {value!r}")], "sample")
        out[name] = value
    if last_n is not None:
        if not isinstance(last_n, int) or isinstance(last_n, bool) or last_n < 1:
            problem = f"must be a positive integer or None, got {last_n!r}"
            raise ValidationError([("prompt_logprobs_last_n", problem)], "sample")
        out["prompt_logprobs_last_n"] = last_n
    if target is not None:
        if not isinstance(target, TensorData):
            raise ValidationError([("target_prompt_logprobs", "expected TensorData")], "sample")
        out["target_prompt_logprobs"] = target
    return out


def _check_model_path(model_path: str | None) -> None:
    if model_path is not None and not str(model_path).startswith("tinker://"):
        raise ValidationError([("model_path", f"must start with 'tinker://', got {model_path!r}")], "SamplingClient")


def _own_retry_config(holder: Holder, value: Any) -> RetryConfig | None:
    """A sampling client's RetryConfig; its ``max_connections`` must match the client-wide pool."""
    config = as_retry_config(value)
    if config is None:
        return None
    shared = getattr(holder, "retry_config", None)
    limit = shared.max_connections if shared is not None else DEFAULT_MAX_CONNECTIONS
    if config.max_connections not in (limit, DEFAULT_MAX_CONNECTIONS):
        raise ValidationError(
            [
                (
                    "retry_config.max_connections",
                    "the sampling connection limit is client-wide: pass it as "
                    "ServiceClient(retry_config=RetryConfig(max_connections=...))",
                )
            ],
            "RetryConfig",
        )
    return config


def with_sequence_ids(future: Any) -> Any:
    """The submit's future, resolving to a response whose sequences carry the submit reply's
    ``sample_sequence_ids`` (kept on the future by the Tinkex plugin) when it had them."""
    ids = getattr(future, "sample_sequence_ids", None)
    if not ids:
        return future
    attached = mapped(future, lambda response: response.with_sequence_ids(ids))
    attached.request_id = future.request_id
    return attached


class SamplingClient:
    """Samples from one sampling session (``sampling_session_id``)."""

    def __init__(
        self,
        holder: Holder,
        *,
        sampling_session_id: str,
        base_model: str | None = None,
        model_path: str | None = None,
        seq_base: int = 0,
        retry_config: Any = None,
        record_stability_info: bool = False,
    ) -> None:
        self.retry_config = _own_retry_config(holder, retry_config)
        self.holder = holder
        self.sampling_session_id = sampling_session_id
        self.model_path = model_path
        self._base_model = base_model
        self._seq_lock = threading.Lock()
        self._next_seq = seq_base
        self.record_stability_info = bool(record_stability_info)
        # This client receives its own queue-state changes (tinker's per-client callback).
        extensions: dict[str, Any] = {"queue_state_id": sampling_session_id, "queue_state_observer": self}
        if self.retry_config is not None:
            extensions["retry"] = self.retry_config.retry_overrides()
        self._options = RequestOptions(extensions=extensions)
        self._queue_logger: Any = None
        self._tokenizer: Any = None

    @classmethod
    def create(
        cls,
        holder: Holder,
        *,
        model_path: str | None = None,
        base_model: str | None = None,
        sampling_session_id: str | None = None,
        retry_config: Any = None,
        record_stability_info: bool = False,
    ) -> SamplingClient:
        """Create a sampling session for saved weights (``model_path``) or a ``base_model``; with
        ``sampling_session_id``, a client for that existing sampler (nothing is created)."""
        _own_retry_config(holder, retry_config)  # bad settings fail before any request
        if sampling_session_id is not None:
            if not isinstance(sampling_session_id, str) or not sampling_session_id:
                raise ValidationError([("sampling_session_id", "must be a non-empty string")], "SamplingClient.create")
            return cls(
                holder,
                sampling_session_id=sampling_session_id,
                base_model=base_model,
                model_path=model_path,
                retry_config=retry_config,
                record_stability_info=record_stability_info,
            )
        if not model_path and not base_model:
            raise ValidationError([("model_path", "pass model_path or base_model")], "create_sampling_client")
        _check_model_path(model_path)
        seq = holder.next_counter("sampling_session_seq_id")
        reply = holder.call(
            "sampling.create_sampling_session",
            session_id=holder.session_id,
            sampling_session_seq_id=seq,
            base_model=base_model,
            model_path=model_path,
        )
        return cls(
            holder,
            sampling_session_id=reply.sampling_session_id,
            base_model=base_model,
            model_path=model_path,
            retry_config=retry_config,
            record_stability_info=record_stability_info,
        )

    def _seq_id(self) -> int:
        with self._seq_lock:
            seq = self._next_seq
            self._next_seq += 1
            return seq

    def _body(
        self, prompt: Any, num_samples: int, sampling_params: Any, prompt_logprobs: bool, topk: int, **extra: Any
    ) -> dict[str, Any]:
        model_input = as_model_input(prompt, "sample", "prompt")
        if model_input.length == 0:
            raise ValidationError([("prompt", "must hold at least one token")], "sample")
        vocab = getattr(self._tokenizer, "vocab_size", None)  # known once get_tokenizer() ran
        for index, chunk in enumerate(model_input.chunks):
            check_vocab("sample", f"prompt.chunks[{index}].tokens", getattr(chunk, "tokens", ()), vocab)
        return {
            **{k: v for k, v in extra.items() if v is not None},
            "record_stability_info": self.record_stability_info,
            "sampling_session_id": self.sampling_session_id,
            "seq_id": self._seq_id(),
            "prompt": model_input,
            "sampling_params": _params(sampling_params),
            "num_samples": num_samples,
            "prompt_logprobs": bool(prompt_logprobs),
            "topk_prompt_logprobs": topk,
        }

    def sample(
        self,
        prompt: ModelInput,
        num_samples: int,
        sampling_params: SamplingParams,
        include_prompt_logprobs: bool = False,
        topk_prompt_logprobs: int = 0,
        topk_sample_logprobs: int = 0,
        target_prompt_logprobs: TensorData | None = None,
        prompt_alt_tokens_k: int = 0,
        prompt_logprobs_last_n: int | None = None,
    ) -> APIFuture[SampleResponse]:
        """Submit a sample; a future of :class:`~tinkex_domain.types.SampleResponse`.

        ``prompt_logprobs_last_n`` limits prompt logprobs to the last n prompt tokens;
        ``topk_sample_logprobs``, ``target_prompt_logprobs`` and ``prompt_alt_tokens_k`` are
        tinker 0.38's extra logprob options (sent as given; a server that cannot produce them
        rejects the request). Bad arguments raise at once; the submission itself runs in the
        background (a 429 back-off never blocks the caller) and a failed one fails the future.
        """
        extra = _logprob_options(
            topk_sample_logprobs, target_prompt_logprobs, prompt_alt_tokens_k, prompt_logprobs_last_n
        )
        body = self._body(prompt, num_samples, sampling_params, include_prompt_logprobs, topk_prompt_logprobs, **extra)

        # The submission runs on the futures plugin's submission workers: the caller gets the
        # future at once. A 429 back-off before the server accepts it is waited out on a timer
        # (the pool plugin's ``defer_backoff``), not by a worker.
        meta = self.holder.client.meta
        options = self._options
        if meta.plugin("pool") is not None:
            options = attrs.evolve(options, extensions={**options.extensions, "defer_backoff": True})

        def submit() -> Any:
            self.holder.learn_server_flags()  # protobuf results when the server offers them
            return with_sequence_ids(self.holder.call("sampling.asample", request_options=options, **body))

        futures = meta.plugin("futures")
        return typed(futures.submit_in_background(submit, "sampling.asample"), SampleResponse)

    async def sample_async(
        self,
        prompt: ModelInput,
        num_samples: int,
        sampling_params: SamplingParams,
        include_prompt_logprobs: bool = False,
        topk_prompt_logprobs: int = 0,
        topk_sample_logprobs: int = 0,
        target_prompt_logprobs: TensorData | None = None,
        prompt_alt_tokens_k: int = 0,
        prompt_logprobs_last_n: int | None = None,
    ) -> SampleResponse:
        """Await a sample's :class:`~tinkex_domain.types.SampleResponse` (the submit runs off the
        event loop; the result is awaited without a thread)."""
        return await self.holder.run(
            self.sample,
            prompt,
            num_samples,
            sampling_params,
            include_prompt_logprobs,
            topk_prompt_logprobs,
            topk_sample_logprobs,
            target_prompt_logprobs,
            prompt_alt_tokens_k,
            prompt_logprobs_last_n,
        )

    def compute_logprobs(
        self, prompt: ModelInput, prompt_logprobs_last_n: int | None = None
    ) -> APIFuture[list[float | None]]:
        """A future of the prompt's per-token logprobs (the first entry is None; with
        ``prompt_logprobs_last_n`` only the last n entries are computed, the others None)."""
        future = self.sample(
            prompt,
            1,
            SamplingParams(max_tokens=1),
            include_prompt_logprobs=True,
            prompt_logprobs_last_n=prompt_logprobs_last_n,
        )
        return mapped(future, lambda response: list(response.prompt_logprobs or []))

    async def compute_logprobs_async(
        self, prompt: ModelInput, prompt_logprobs_last_n: int | None = None
    ) -> list[float | None]:
        """Await :meth:`compute_logprobs`."""
        return await self.holder.run(self.compute_logprobs, prompt, prompt_logprobs_last_n)

    def sample_stream(self, prompt: ModelInput, sampling_params: SamplingParams) -> Iterator[SampleStreamChunk]:
        """Stream one sample token by token: ``token`` chunks, then a ``done`` chunk.

        A server ``error`` event raises :class:`~pristine_core.errors.RequestFailedError`.
        Needs the pristine streaming plugin.
        """
        body = self._body(prompt, 1, sampling_params, False, 0)
        stream = self.holder.call("sampling.stream_sample", **body)
        if not hasattr(stream, "last_event"):
            stream.close()
            raise PristineError("sample_stream needs the pristine streaming plugin (pip install pristine-streaming)")
        return self._chunks(stream)

    @staticmethod
    def _chunks(stream: Any) -> Iterator[SampleStreamChunk]:
        with stream:
            for item in stream:
                kind = stream.last_event.event if stream.last_event is not None else None
                chunk = attrs.evolve(item, event_type=kind) if kind and kind != "message" else item
                if chunk.event_type == "error" or chunk.error is not None:
                    message = chunk.error or "stream_sample failed"
                    raise RequestFailedError(message, category=chunk.category or "unknown")
                yield chunk
                if chunk.done:
                    return

    def get_base_model(self) -> str:
        """The base model this client samples from (asked from the server once)."""
        if self._base_model is None:
            self._base_model = self.holder.call("sampling.get_sampler", sampler_id=self.sampling_session_id).base_model
        return self._base_model

    async def get_base_model_async(self) -> str:
        """Await :meth:`get_base_model`."""
        return self.get_base_model()

    def get_tokenizer(self) -> Any:
        """The tokenizer of the base model (byte-level for emulator models)."""
        if self._tokenizer is None:
            base_model = self.get_base_model()
            caps = self.holder.call("service.get_server_capabilities")
            arch = next((m.arch for m in caps.supported_models if base_model in (m.model_name, m.model_id)), None)
            self._tokenizer = get_tokenizer(base_model, None, arch)
        return self._tokenizer

    def encode(self, text: str) -> list[int]:
        """``text`` → token ids with the base model's tokenizer (no special tokens added)."""
        return list(self.get_tokenizer().encode(text))

    def decode(self, tokens: Sequence[int]) -> str:
        """Token ids → text with the base model's tokenizer."""
        return str(self.get_tokenizer().decode(list(tokens)))

    def get_telemetry(self) -> Any:
        """The telemetry reporter of this client (None when telemetry is off or not installed)."""
        return self.holder.telemetry()

    def on_queue_state_change(self, queue_state: Any, queue_state_reason: str | None) -> None:
        """Called when this client's sampling queue pauses or resumes; logs a paused state
        (rate-limited). Override it in a subclass to react differently."""
        if self._queue_logger is None:
            plugin = self.holder.client.meta.plugin("futures")
            if plugin is None:
                return
            self._queue_logger = plugin.queue_state_logger("Sampling", self.sampling_session_id)
        self._queue_logger.on_queue_state_change(queue_state, queue_state_reason)

    def get_sampler_handle(self) -> str:
        """A credential-free string naming this sampler; :meth:`from_sampler_handle` turns it
        into a new client in any process (a pickle-free alternative)."""
        state = {
            "base_url": self.holder.base_url,
            "session_id": self.holder.session_id,
            "sampling_session_id": self.sampling_session_id,
            "base_model": self._base_model,
            "model_path": self.model_path,
            "record_stability_info": self.record_stability_info,
        }
        return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()

    @staticmethod
    def from_sampler_handle(handle: str, *, api_key: str | None = None) -> SamplingClient:
        """A new client for the sampler behind ``handle``, authenticated with ``api_key`` (or
        ``TINKER_API_KEY``)."""
        try:
            state = json.loads(base64.urlsafe_b64decode(handle.encode()))
            fields = {k: state[k] for k in ("base_url", "session_id", "sampling_session_id")}
        except (ValueError, KeyError, TypeError, AttributeError):
            problem = [("handle", "not a sampler handle (from get_sampler_handle)")]
            raise ValidationError(problem, "from_sampler_handle") from None
        holder = shadow_holder(fields["base_url"], api_key, fields["session_id"])
        return SamplingClient(
            holder,
            sampling_session_id=fields["sampling_session_id"],
            base_model=state.get("base_model"),
            model_path=state.get("model_path"),
            seq_base=random.randrange(1, 1000) * SHADOW_SEQ_STRIDE,
            record_stability_info=bool(state.get("record_stability_info", False)),
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        state = (
            self.holder.base_url,
            self.holder.client.meta.api_key,  # a Secret: the pickle holds the key masked, never in clear
            self.holder.session_id,
            self.sampling_session_id,
            self._base_model,
            self.model_path,
            self.record_stability_info,
        )
        return (_unpickle, state)

    def result(self, timeout: float | None = None) -> SamplingClient:
        """This client. tinker 0.38's ``create_*`` return a future of the client; Tinkex creates it
        at once and returns it, and it answers ``result()`` so code written for either works."""
        return self

    async def result_async(self, timeout: float | None = None) -> SamplingClient:
        """This client (see :meth:`result`)."""
        return self

    def __repr__(self) -> str:
        return f"<SamplingClient {self.sampling_session_id}>"


def _unpickle(
    base_url: str,
    api_key: Secret | str | None,
    session_id: str,
    sampling_session_id: str,
    base_model: str | None,
    model_path: str | None,
    record_stability_info: bool = False,
) -> SamplingClient:
    key = api_key.reveal() if isinstance(api_key, Secret) else api_key
    holder = shadow_holder(base_url, key, session_id)
    seq_base = random.randrange(1, 1000) * SHADOW_SEQ_STRIDE
    return SamplingClient(
        holder,
        sampling_session_id=sampling_session_id,
        base_model=base_model,
        model_path=model_path,
        seq_base=seq_base,
        record_stability_info=record_stability_info,
    )
