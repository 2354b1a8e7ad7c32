"""``TrainingClient``: forward/backward, optimizer steps and checkpoints of one LoRA model.

Method names and semantics follow the tinker SDK. Calls return an :class:`APIFuture` as soon as
the request is submitted, so a script can pipeline ``forward_backward`` and ``optim_step``;
submissions reach the server strictly in call order (see :mod:`tinkex_domain.ordering`).
Large batches are split into chunks whose results are merged (:mod:`tinkex_domain.metrics_reduction`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pristine_core import RequestOptions
from pristine_core.errors import ValidationError
from tinkex_domain import custom_loss
from tinkex_domain._futures import APIFuture, combine, mapped
from tinkex_domain.chunking import MAX_CHUNK_BYTES, MAX_CHUNK_LEN, chunk_data
from tinkex_domain.holder import Holder
from tinkex_domain.metrics_reduction import combine_forward_backward_results
from tinkex_domain.ordering import BodyFn, OrderedSubmitter
from tinkex_domain.sampling_client import SamplingClient
from tinkex_domain.tokenizer import get_tokenizer
from tinkex_domain.types import AdamParams, Datum, ForwardBackwardOutput, GetInfoResponse, ParsedCheckpointTinkerPath
from tinkex_domain.types._common import as_int, check_checkpoint_name, check_vocab, float_map
from tinkex_domain.types.params import check_loss_fn


def _datums(data: Sequence[Any]) -> list[Datum]:
    if isinstance(data, (str, bytes, Mapping)) or not isinstance(data, Sequence):
        raise ValidationError([("data", "expected a list of Datum")], "forward_backward")
    if not data:
        raise ValidationError([("data", "no data provided")], "forward_backward")
    out = []
    for i, item in enumerate(data):
        if isinstance(item, Datum):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(Datum(**item))
        else:
            raise ValidationError([(f"data[{i}]", f"expected a Datum, got {type(item).__name__}")], "forward_backward")
    return out


def _ttl(ttl_seconds: Any) -> int | None:
    if ttl_seconds is None:
        return None
    ttl = as_int("save", "ttl_seconds", ttl_seconds)
    if ttl < 1:
        raise ValidationError([("ttl_seconds", "must be a positive number of seconds, or None")], "save")
    return ttl


def _adam(value: Any) -> AdamParams:
    if isinstance(value, AdamParams):
        return value
    if isinstance(value, Mapping):
        return AdamParams(**value)
    raise ValidationError([("adam_params", f"expected AdamParams, got {type(value).__name__}")], "optim_step")


class TrainingClient:
    """Trains one model (``model_id``); create it with ``ServiceClient.create_lora_training_client``."""

    def __init__(
        self,
        holder: Holder,
        model_id: str,
        *,
        base_model: str | None = None,
        max_chunk_len: int = MAX_CHUNK_LEN,
        max_chunk_bytes: int = MAX_CHUNK_BYTES,
    ) -> None:
        self.holder = holder
        self.model_id = model_id
        self.base_model = base_model
        self.max_chunk_len = max_chunk_len
        self.max_chunk_bytes = max_chunk_bytes
        self._submitter = OrderedSubmitter(first_seq_id=1)
        self._options = RequestOptions(extensions={"queue_state_id": model_id})
        self._tokenizer: Any = None

    def __repr__(self) -> str:
        return f"<TrainingClient {self.model_id}>"

    # -- submission -----------------------------------------------------------------------

    def _sender(self, endpoint: str) -> Callable[[dict[str, Any]], APIFuture]:
        def send(kwargs: dict[str, Any]) -> APIFuture:
            return self.holder.call(endpoint, request_options=self._options, **kwargs)  # type: ignore[no-any-return]

        return send

    def _submit(self, endpoint: str, fields: dict[str, Any]) -> APIFuture:
        def body(seq: int) -> dict[str, Any]:
            return {"model_id": self.model_id, "seq_id": seq, **fields}

        return self._submitter.submit(self._sender(endpoint), body)

    def _run_chunked(self, endpoint: str, input_key: str, data: Sequence[Any], loss_fn: Any, config: Any) -> APIFuture:
        datums = _datums(data)
        vocab = getattr(self._tokenizer, "vocab_size", None)  # known once get_tokenizer() ran
        if vocab is not None:
            for i, datum in enumerate(datums):
                for j, chunk in enumerate(datum.model_input.chunks):
                    where = f"data[{i}].model_input.chunks[{j}].tokens"
                    check_vocab("Datum", where, getattr(chunk, "tokens", ()), vocab)
        loss = check_loss_fn(loss_fn)
        cfg = float_map("ForwardBackwardInput", "loss_fn_config", config) or None
        chunks = chunk_data(datums, self.max_chunk_len, self.max_chunk_bytes)

        def body(chunk: list[Datum]) -> BodyFn:
            return lambda seq: {
                "model_id": self.model_id,
                "seq_id": seq,
                input_key: {"data": chunk, "loss_fn": loss, "loss_fn_config": cfg},
            }

        futures = self._submitter.submit_many(self._sender(endpoint), [body(c) for c in chunks])
        if len(futures) == 1:
            return futures[0]
        return combine(futures, combine_forward_backward_results)

    @property
    def next_seq_id(self) -> int:
        """The seq id the next training request will carry."""
        return self._submitter.next_seq_id

    # -- training -------------------------------------------------------------------------

    def forward(
        self, data: Sequence[Datum], loss_fn: str, loss_fn_config: Mapping[str, float] | None = None
    ) -> APIFuture:
        """Evaluate the loss without gradients; a future of ForwardBackwardOutput (logprobs per datum)."""
        return self._run_chunked("training.forward", "forward_input", data, loss_fn, loss_fn_config)

    def forward_backward(
        self, data: Sequence[Datum], loss_fn: str, loss_fn_config: Mapping[str, float] | None = None
    ) -> APIFuture:
        """Compute the loss and accumulate gradients; a future of ForwardBackwardOutput."""
        return self._run_chunked("training.forward_backward", "forward_backward_input", data, loss_fn, loss_fn_config)

    def forward_backward_custom(
        self,
        data: Sequence[Datum],
        loss_fn: Callable[..., Any],
        *,
        loss_type_input: str = "logprobs",
        backend: custom_loss.Backend = "auto",
    ) -> APIFuture:
        """Apply a custom loss on the logprobs (see :mod:`tinkex_domain.custom_loss`).

        Blocks for the forward pass, computes the gradients locally, then submits the backward
        pass and returns its future (metrics include the user's and ``custom_loss:sum``).
        """
        if loss_type_input != "logprobs":
            raise ValidationError([("loss_type_input", "only 'logprobs' is supported")], "forward_backward_custom")
        which = custom_loss.resolve_backend(backend)
        forward_data = custom_loss.forward_data(_datums(data))
        output: ForwardBackwardOutput = self.forward(forward_data, "cross_entropy").result()
        logprobs = custom_loss.extract_logprobs(output, len(forward_data))
        gradients = custom_loss.compute_gradients(loss_fn, list(data), logprobs, which)
        backward = self.forward_backward(custom_loss.linear_loss_data(forward_data, gradients.grads), "cross_entropy")
        return mapped(backward, lambda out: custom_loss.merge_custom_metrics(out, gradients))

    def optim_step(self, adam_params: AdamParams) -> APIFuture:
        """Apply the accumulated gradients with Adam; a future of OptimStepResponse."""
        return self._submit("training.optim_step", {"adam_params": _adam(adam_params)})

    # -- weights --------------------------------------------------------------------------

    def save_state(self, name: str, ttl_seconds: int | None = None, overwrite: bool = False) -> APIFuture:
        """Save weights and optimizer state as ``tinker://<model>/weights/<name>``."""
        check_checkpoint_name("save_state", "name", name)
        fields = {"path": name, "ttl_seconds": _ttl(ttl_seconds), "overwrite": bool(overwrite)}
        return self._submit("weights.save_weights", fields)

    def _load(self, path: str, optimizer: bool, weights_access_token: str | None) -> APIFuture:
        ParsedCheckpointTinkerPath.from_tinker_path(path)
        fields = {"path": path, "optimizer": optimizer, "weights_access_token": weights_access_token}
        return self._submit("weights.load_weights", fields)

    def load_state(self, path: str, weights_access_token: str | None = None) -> APIFuture:
        """Load the weights of a training checkpoint (optimizer state is reset)."""
        return self._load(path, False, weights_access_token)

    def load_state_with_optimizer(self, path: str, weights_access_token: str | None = None) -> APIFuture:
        """Load weights and optimizer state of a training checkpoint."""
        return self._load(path, True, weights_access_token)

    def save_weights_for_sampler(self, name: str, ttl_seconds: int | None = None) -> APIFuture:
        """Save sampler weights as ``tinker://<model>/sampler_weights/<name>``."""
        check_checkpoint_name("save_weights_for_sampler", "name", name)
        return self._submit("weights.save_weights_for_sampler", {"path": name, "ttl_seconds": _ttl(ttl_seconds)})

    def save_weights_and_get_sampling_client(self, name: str | None = None, retry_config: Any = None) -> SamplingClient:
        """Snapshot the current weights into a new sampler and return its client (``name`` is ignored,
        as in tinker: the snapshot is ephemeral)."""
        seq = self.holder.next_counter("sampling_session_seq_id")
        reply = self._submit("weights.save_weights_for_sampler", {"sampling_session_seq_id": seq}).result()
        if not reply.sampling_session_id and not reply.path:
            raise ValidationError([("sampling_session_id", "the server returned neither a sampler nor a path")])
        if reply.sampling_session_id:
            return SamplingClient(
                self.holder,
                sampling_session_id=reply.sampling_session_id,
                base_model=self.base_model,
                model_path=reply.path,
                retry_config=retry_config,
            )
        return SamplingClient.create(self.holder, model_path=reply.path, retry_config=retry_config)

    def create_sampling_client(self, model_path: str, retry_config: Any = None) -> SamplingClient:
        """A sampling client for saved sampler weights (``retry_config``: its submissions' retries)."""
        return SamplingClient.create(self.holder, model_path=model_path, retry_config=retry_config)

    # -- model ----------------------------------------------------------------------------

    def get_info(self) -> GetInfoResponse:
        """Model id, model data (architecture, tokenizer) and LoRA details."""
        return self.holder.call("models.get_info", model_id=self.model_id)  # type: ignore[no-any-return]

    def unload_model(self) -> APIFuture:
        """Release the model on the server; a future of UnloadModelResponse."""
        return self.holder.call("models.unload_model", model_id=self.model_id)  # type: ignore[no-any-return]

    def get_tokenizer(self) -> Any:
        """The model's tokenizer (byte-level for emulator models; Hugging Face otherwise)."""
        if self._tokenizer is None:
            info = self.get_info()
            data = info.model_data
            name = data.model_name or info.model_name or self.base_model or ""
            self._tokenizer = get_tokenizer(name, data.tokenizer_id, data.arch)
        return self._tokenizer

    def encode(self, text: str) -> list[int]:
        """``text`` → token ids with the model's tokenizer (no special tokens added)."""
        return list(self.get_tokenizer().encode(text))

    def decode(self, tokens: Sequence[int]) -> str:
        """Token ids → text with the model's tokenizer."""
        return str(self.get_tokenizer().decode(list(tokens)))

    # -- async twins (tinker: the coroutines return the same futures) -----------------------

    async def forward_async(
        self, data: Sequence[Datum], loss_fn: str, loss_fn_config: Mapping[str, float] | None = None
    ) -> APIFuture:
        """:meth:`forward`, as a coroutine returning the future."""
        return self.forward(data, loss_fn, loss_fn_config)

    async def forward_backward_async(
        self, data: Sequence[Datum], loss_fn: str, loss_fn_config: Mapping[str, float] | None = None
    ) -> APIFuture:
        """:meth:`forward_backward`, as a coroutine returning the future."""
        return self.forward_backward(data, loss_fn, loss_fn_config)

    async def optim_step_async(self, adam_params: AdamParams) -> APIFuture:
        """:meth:`optim_step`, as a coroutine returning the future."""
        return self.optim_step(adam_params)

    async def save_state_async(self, name: str, ttl_seconds: int | None = None, overwrite: bool = False) -> APIFuture:
        """:meth:`save_state`, as a coroutine returning the future."""
        return self.save_state(name, ttl_seconds, overwrite)

    async def load_state_async(self, path: str, weights_access_token: str | None = None) -> APIFuture:
        """:meth:`load_state`, as a coroutine returning the future."""
        return self.load_state(path, weights_access_token)

    async def get_info_async(self) -> GetInfoResponse:
        """:meth:`get_info`, as a coroutine."""
        return self.get_info()
