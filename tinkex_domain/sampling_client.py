"""``SamplingClient``: sample from a base model or saved weights, as in the tinker SDK.

Dispatch throttling and 429 back-pressure come from the pool plugin (the manifest's ``sample``
pool), polling from the futures plugin, streaming from the streaming plugin. The client itself
only builds requests. It pickles: a copy in another process joins the same session.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from pristine_core import RequestOptions
from pristine_core.errors import PristineError, RequestFailedError, ValidationError
from pristine_core.secrets import Secret
from tinkex_domain._futures import APIFuture, failed, mapped
from tinkex_domain.holder import Holder, shadow_holder
from tinkex_domain.retry_config import DEFAULT_MAX_CONNECTIONS, RetryConfig, as_retry_config
from tinkex_domain.tokenizer import get_tokenizer
from tinkex_domain.types import ModelInput, SampleResponse, SampleStreamChunk, SamplingParams
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
    ) -> None:
        self.retry_config = _own_retry_config(holder, retry_config)
        self.holder = holder
        self.sampling_session_id = sampling_session_id
        self.model_path = model_path
        self._base_model = base_model
        self._seq_lock = threading.Lock()
        self._next_seq = seq_base
        extensions: dict[str, Any] = {"queue_state_id": sampling_session_id}
        if self.retry_config is not None:
            extensions["retry"] = self.retry_config.retry_overrides()
        self._options = RequestOptions(extensions=extensions)
        self._tokenizer: Any = None

    @classmethod
    def create(
        cls,
        holder: Holder,
        *,
        model_path: str | None = None,
        base_model: str | None = None,
        retry_config: Any = None,
    ) -> SamplingClient:
        """Create a sampling session for saved weights (``model_path``) or a ``base_model``."""
        _own_retry_config(holder, retry_config)  # bad settings fail before any request
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
        )

    def _seq_id(self) -> int:
        with self._seq_lock:
            seq = self._next_seq
            self._next_seq += 1
            return seq

    def _body(
        self, prompt: Any, num_samples: int, sampling_params: Any, prompt_logprobs: bool, topk: int
    ) -> dict[str, Any]:
        model_input = as_model_input(prompt, "sample", "prompt")
        if model_input.length == 0:
            raise ValidationError([("prompt", "must hold at least one token")], "sample")
        vocab = getattr(self._tokenizer, "vocab_size", None)  # known once get_tokenizer() ran
        for index, chunk in enumerate(model_input.chunks):
            check_vocab("sample", f"prompt.chunks[{index}].tokens", getattr(chunk, "tokens", ()), vocab)
        return {
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
    ) -> APIFuture:
        """Submit a sample; a future of :class:`~tinkex_domain.types.SampleResponse`.

        Bad arguments raise at once; a failed submission fails the future.
        """
        body = self._body(prompt, num_samples, sampling_params, include_prompt_logprobs, topk_prompt_logprobs)
        try:
            return self.holder.call("sampling.asample", request_options=self._options, **body)  # type: ignore[no-any-return]
        except ValidationError:
            raise
        except PristineError as exc:
            return failed(exc, "sampling.asample")

    async def sample_async(
        self,
        prompt: ModelInput,
        num_samples: int,
        sampling_params: SamplingParams,
        include_prompt_logprobs: bool = False,
        topk_prompt_logprobs: int = 0,
    ) -> SampleResponse:
        """Await a sample's :class:`~tinkex_domain.types.SampleResponse`."""
        future = self.sample(prompt, num_samples, sampling_params, include_prompt_logprobs, topk_prompt_logprobs)
        return await future  # type: ignore[no-any-return]

    def compute_logprobs(self, prompt: ModelInput) -> APIFuture:
        """A future of the prompt's per-token logprobs (the first entry is None)."""
        future = self.sample(prompt, 1, SamplingParams(max_tokens=1), include_prompt_logprobs=True)
        return mapped(future, lambda response: list(response.prompt_logprobs or []))

    async def compute_logprobs_async(self, prompt: ModelInput) -> list[float | None]:
        """Await :meth:`compute_logprobs`."""
        return await self.compute_logprobs(prompt)  # type: ignore[no-any-return]

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

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        state = (
            self.holder.base_url,
            self.holder.client.api_key,  # a Secret: the pickle holds the key masked, never in clear
            self.holder.session_id,
            self.sampling_session_id,
            self._base_model,
            self.model_path,
        )
        return (_unpickle, state)

    def __repr__(self) -> str:
        return f"<SamplingClient {self.sampling_session_id}>"


def _unpickle(
    base_url: str,
    api_key: Secret | str | None,
    session_id: str,
    sampling_session_id: str,
    base_model: str | None,
    model_path: str | None,
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
    )
