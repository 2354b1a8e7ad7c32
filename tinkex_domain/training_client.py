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
from pristine_runtime.fanout import run_concurrently
from tinkex_domain import custom_loss
from tinkex_domain._futures import APIFuture, combine, mapped, typed
from tinkex_domain.chunking import MAX_CHUNK_BYTES, MAX_CHUNK_LEN, chunk_data
from tinkex_domain.console import training_run_console_url
from tinkex_domain.holder import Holder
from tinkex_domain.loss_handle import LossHandle
from tinkex_domain.metrics_reduction import combine_forward_backward_results
from tinkex_domain.optimizers import OptimParams, optim_fields
from tinkex_domain.ordering import BodyFn, OrderedSubmitter
from tinkex_domain.sampling_client import SamplingClient
from tinkex_domain.tokenizer import get_tokenizer
from tinkex_domain.types import (
    AdamParams,
    Datum,
    ForwardBackwardOutput,
    GetInfoResponse,
    LoadWeightsResponse,
    OptimStepResponse,
    ParsedCheckpointTinkerPath,
    SaveWeightsForSamplerResponse,
    SaveWeightsResponse,
    UnloadModelResponse,
)
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


def _metadata(user_metadata: Mapping[str, Any] | None) -> dict[str, str] | None:
    if user_metadata is None:
        return None
    if not isinstance(user_metadata, Mapping):
        raise ValidationError([("user_metadata", "expected a mapping of strings")], "save")
    bad = [k for k, v in user_metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise ValidationError([(f"user_metadata.{bad[0]}", "keys and values must be strings")], "save")
    return dict(user_metadata)


SAMPLER_KINDS = ("snapshot", "inflight")


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
        parallel_chunks: bool | None = None,
    ) -> None:
        self.holder = holder
        self.model_id = model_id
        self.base_model = base_model
        self.max_chunk_len = max_chunk_len
        self.max_chunk_bytes = max_chunk_bytes
        #: Send the chunks of one forward/backward concurrently: True or False, or None to do what
        #: the server's ``client/config`` flag ``parallel_fwdbwd_chunks`` says (as tinker does).
        #: Bytes of chunks in flight are capped by the ``train`` pool's ``byte_budget`` (manifest).
        self.parallel_chunks = parallel_chunks
        self._submitter = OrderedSubmitter(first_seq_id=1)
        self._options = RequestOptions(extensions={"queue_state_id": model_id})
        self._tokenizer: Any = None

    def result(self, timeout: float | None = None) -> TrainingClient:
        """This client. tinker 0.38's ``create_*`` return a future of the client; Tinkex creates it
        at once and returns it, and it answers ``result()`` so code written for either works."""
        return self

    async def result_async(self, timeout: float | None = None) -> TrainingClient:
        """This client (see :meth:`result`)."""
        return self

    def __repr__(self) -> str:
        return f"<TrainingClient {self.model_id}>"

    # -- submission -----------------------------------------------------------------------

    def _sender(
        self, endpoint: str, options: RequestOptions | None = None
    ) -> Callable[[dict[str, Any]], APIFuture[Any]]:
        opts = options or self._options

        def send(kwargs: dict[str, Any]) -> APIFuture[Any]:
            return typed(self.holder.call(endpoint, request_options=opts, **kwargs))

        return send

    def _submit(self, endpoint: str, fields: dict[str, Any]) -> APIFuture[Any]:
        def body(seq: int) -> dict[str, Any]:
            return {"model_id": self.model_id, "seq_id": seq, **fields}

        return self._submitter.submit(self._sender(endpoint), body)

    def _run_chunked(
        self, endpoint: str, input_key: str, data: Sequence[Any], loss_fn: Any, config: Any
    ) -> APIFuture[ForwardBackwardOutput]:
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

        extensions = self.holder.fwdbwd_extensions()  # protobuf bodies when the server says so
        options = RequestOptions(extensions={**self._options.extensions, **extensions}) if extensions else None
        send, bodies = self._sender(endpoint, options), [body(c) for c in chunks]
        if len(bodies) > 1 and self._parallel():
            scheduler = self.holder.client.meta.scheduler
            futures = self._submitter.submit_parallel(
                send, bodies, lambda calls: run_concurrently(scheduler, calls, name=f"{endpoint} chunk")
            )
        else:
            futures = self._submitter.submit_many(send, bodies)
        if len(futures) == 1:
            return futures[0]
        return combine(futures, combine_forward_backward_results)

    def _parallel(self) -> bool:
        if self.parallel_chunks is not None:
            return self.parallel_chunks
        return self.holder.parallel_fwdbwd_chunks()

    @property
    def next_seq_id(self) -> int:
        """The seq id the next training request will carry."""
        return self._submitter.next_seq_id

    # -- training -------------------------------------------------------------------------

    def forward(
        self, data: Sequence[Datum], loss_fn: str, loss_fn_config: Mapping[str, float] | None = None
    ) -> APIFuture[ForwardBackwardOutput]:
        """Evaluate the loss without gradients; a future of ForwardBackwardOutput (logprobs per datum)."""
        return self._run_chunked("training.forward", "forward_input", data, loss_fn, loss_fn_config)

    def forward_backward(
        self, data: Sequence[Datum], loss_fn: str, loss_fn_config: Mapping[str, float] | None = None
    ) -> APIFuture[ForwardBackwardOutput]:
        """Compute the loss and accumulate gradients; a future of ForwardBackwardOutput."""
        return self._run_chunked("training.forward_backward", "forward_backward_input", data, loss_fn, loss_fn_config)

    def forward_backward_custom(
        self,
        data: Sequence[Datum],
        loss_fn: Callable[..., Any] | LossHandle,
        *,
        loss_type_input: str = "logprobs",
        backend: custom_loss.Backend = "auto",
    ) -> APIFuture[ForwardBackwardOutput]:
        """Apply a custom loss on the logprobs (see :mod:`tinkex_domain.custom_loss`): a batch
        callable, or a :class:`~tinkex_domain.loss_handle.LossHandle` from ``create_custom_loss``.

        Blocks for the forward pass, computes the gradients locally, then submits the backward
        pass and returns its future (metrics include the user's and ``custom_loss:sum``).
        """
        if loss_type_input != "logprobs":
            raise ValidationError([("loss_type_input", "only 'logprobs' is supported")], "forward_backward_custom")
        extra_keys: tuple[str, ...] = ()
        if isinstance(loss_fn, LossHandle):
            if loss_fn.session_id != self.holder.session_id:
                raise ValidationError(
                    [("loss_fn", "this LossHandle belongs to another session")], "forward_backward_custom"
                )
            if backend == "numpy":
                raise ValidationError([("backend", "a LossHandle runs with torch")], "forward_backward_custom")
            backend, extra_keys = "torch", loss_fn.input_keys
        which = custom_loss.resolve_backend(backend)
        forward_data = custom_loss.forward_data(_datums(data), extra_keys)
        output: ForwardBackwardOutput = self.forward(forward_data, "cross_entropy").result()
        logprobs = custom_loss.extract_logprobs(output, len(forward_data))
        gradients = custom_loss.compute_gradients(loss_fn, list(data), logprobs, which)
        backward = self.forward_backward(custom_loss.linear_loss_data(forward_data, gradients.grads), "cross_entropy")
        return mapped(backward, lambda out: custom_loss.merge_custom_metrics(out, gradients))

    def optim_step(
        self, optim_params: OptimParams | None = None, *, adam_params: AdamParams | None = None
    ) -> APIFuture[OptimStepResponse]:
        """Apply the accumulated gradients; a future of OptimStepResponse.

        ``optim_params`` are the parameters of the model's optimizer family (AdamParams, or
        DimuonParams for a Dimuon model); ``adam_params`` is the older keyword for AdamParams.
        """
        return self._submit("training.optim_step", optim_fields(optim_params, adam_params))

    # -- weights --------------------------------------------------------------------------

    def save_state(
        self,
        name: str,
        ttl_seconds: int | None = None,
        overwrite: bool = False,
        user_metadata: Mapping[str, str] | None = None,
    ) -> APIFuture[SaveWeightsResponse]:
        """Save weights and optimizer state as ``tinker://<model>/weights/<name>``."""
        check_checkpoint_name("save_state", "name", name)
        fields = {
            "path": name,
            "ttl_seconds": _ttl(ttl_seconds),
            "overwrite": bool(overwrite),
            "user_metadata": _metadata(user_metadata),
        }
        return self._submit("weights.save_weights", fields)

    def _load(self, path: str, optimizer: bool, weights_access_token: str | None) -> APIFuture[LoadWeightsResponse]:
        ParsedCheckpointTinkerPath.from_tinker_path(path)
        fields = {"path": path, "optimizer": optimizer, "weights_access_token": weights_access_token}
        return self._submit("weights.load_weights", fields)

    def load_state(self, path: str, weights_access_token: str | None = None) -> APIFuture[LoadWeightsResponse]:
        """Load the weights of a training checkpoint (optimizer state is reset)."""
        return self._load(path, False, weights_access_token)

    def load_state_with_optimizer(
        self, path: str, weights_access_token: str | None = None
    ) -> APIFuture[LoadWeightsResponse]:
        """Load weights and optimizer state of a training checkpoint."""
        return self._load(path, True, weights_access_token)

    def save_weights_for_sampler(
        self, name: str, ttl_seconds: int | None = None, user_metadata: Mapping[str, str] | None = None
    ) -> APIFuture[SaveWeightsForSamplerResponse]:
        """Save sampler weights as ``tinker://<model>/sampler_weights/<name>``."""
        check_checkpoint_name("save_weights_for_sampler", "name", name)
        fields = {"path": name, "ttl_seconds": _ttl(ttl_seconds), "user_metadata": _metadata(user_metadata)}
        return self._submit("weights.save_weights_for_sampler", fields)

    def save_weights_external(
        self, name: str, ttl_seconds: int | None = None, age_encryption_recipients: Sequence[str] | None = None
    ) -> APIFuture[Any]:
        """Save the weights as ``tinker://<model>/external_weights/<name>``, downloadable file by file
        through ``RestClient.get_external_weights_urls``; a future of SaveWeightsExternalResponse
        (``path``, ``size_bytes``). ``age_encryption_recipients`` asks the server to encrypt them."""
        recipients = None
        if age_encryption_recipients is not None:
            if isinstance(age_encryption_recipients, str) or not all(
                isinstance(r, str) and r for r in age_encryption_recipients
            ):
                raise ValidationError(
                    [("age_encryption_recipients", "expected a list of non-empty strings")], "save_weights_external"
                )
            recipients = list(age_encryption_recipients)
        fields = {"path": name, "ttl_seconds": _ttl(ttl_seconds), "age_encryption_recipients": recipients}
        return self._submit("weights.save_weights_external", fields)

    def save_weights_and_get_sampling_client(
        self,
        name: str | None = None,
        retry_config: Any = None,
        record_stability_info: bool = False,
        kind: str = "snapshot",
    ) -> SamplingClient:
        """Snapshot the current weights into a new sampler and return its client (``name`` is ignored,
        as in tinker: the snapshot is ephemeral). ``kind`` is ``snapshot`` (fixed weights) or
        ``inflight`` (weights shared with this model's other inflight samplers)."""
        if kind not in SAMPLER_KINDS:
            raise ValidationError(
                [("kind", "must be 'snapshot' or 'inflight'")], "save_weights_and_get_sampling_client"
            )
        seq = self.holder.next_counter("sampling_session_seq_id")
        fields: dict[str, Any] = {"sampling_session_seq_id": seq, "kind": None if kind == "snapshot" else kind}
        reply = self._submit("weights.save_weights_for_sampler", fields).result()
        if not reply.sampling_session_id and not reply.path:
            raise ValidationError([("sampling_session_id", "the server returned neither a sampler nor a path")])
        if reply.sampling_session_id:
            return SamplingClient(
                self.holder,
                sampling_session_id=reply.sampling_session_id,
                base_model=self.base_model,
                model_path=reply.path,
                retry_config=retry_config,
                record_stability_info=record_stability_info,
            )
        return SamplingClient.create(
            self.holder, model_path=reply.path, retry_config=retry_config, record_stability_info=record_stability_info
        )

    def create_sampling_client(
        self, model_path: str, retry_config: Any = None, record_stability_info: bool = False
    ) -> SamplingClient:
        """A sampling client for saved sampler weights (``retry_config``: its submissions' retries)."""
        return SamplingClient.create(
            self.holder, model_path=model_path, retry_config=retry_config, record_stability_info=record_stability_info
        )

    # -- model ----------------------------------------------------------------------------

    def get_info(self) -> GetInfoResponse:
        """Model id, model data (architecture, tokenizer) and LoRA details."""
        return self.holder.call("models.get_info", model_id=self.model_id)  # type: ignore[no-any-return]

    def unload_model(self) -> APIFuture[UnloadModelResponse]:
        """Release the model on the server; a future of UnloadModelResponse."""
        return typed(self.holder.call("models.unload_model", model_id=self.model_id))

    def get_console_url(self) -> str:
        """The console page of this training run."""
        return training_run_console_url(self.model_id)

    def get_telemetry(self) -> Any:
        """The telemetry reporter of this client (None when telemetry is off or not installed)."""
        return self.holder.telemetry()

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
    ) -> APIFuture[ForwardBackwardOutput]:
        """:meth:`forward`, as a coroutine returning the future."""
        return await self.holder.off_loop(self.forward, data, loss_fn, loss_fn_config)

    async def forward_backward_async(
        self, data: Sequence[Datum], loss_fn: str, loss_fn_config: Mapping[str, float] | None = None
    ) -> APIFuture[ForwardBackwardOutput]:
        """:meth:`forward_backward`, as a coroutine returning the future."""
        return await self.holder.off_loop(self.forward_backward, data, loss_fn, loss_fn_config)

    async def forward_backward_custom_async(
        self,
        data: Sequence[Datum],
        loss_fn: Callable[..., Any] | LossHandle,
        *,
        loss_type_input: str = "logprobs",
        backend: custom_loss.Backend = "auto",
    ) -> APIFuture[ForwardBackwardOutput]:
        """:meth:`forward_backward_custom`."""
        return await self.holder.off_loop(
            self.forward_backward_custom, data, loss_fn, loss_type_input=loss_type_input, backend=backend
        )

    async def optim_step_async(
        self, optim_params: OptimParams | None = None, *, adam_params: AdamParams | None = None
    ) -> APIFuture[OptimStepResponse]:
        """:meth:`optim_step`, as a coroutine returning the future."""
        return await self.holder.off_loop(self.optim_step, optim_params, adam_params=adam_params)

    async def save_state_async(
        self,
        name: str,
        ttl_seconds: int | None = None,
        overwrite: bool = False,
        user_metadata: Mapping[str, str] | None = None,
    ) -> APIFuture[SaveWeightsResponse]:
        """:meth:`save_state`, as a coroutine returning the future."""
        return await self.holder.off_loop(self.save_state, name, ttl_seconds, overwrite, user_metadata)

    async def load_state_async(
        self, path: str, weights_access_token: str | None = None
    ) -> APIFuture[LoadWeightsResponse]:
        """:meth:`load_state`, as a coroutine returning the future."""
        return await self.holder.off_loop(self.load_state, path, weights_access_token)

    async def load_state_with_optimizer_async(
        self, path: str, weights_access_token: str | None = None
    ) -> APIFuture[LoadWeightsResponse]:
        """:meth:`load_state_with_optimizer`, as a coroutine returning the future."""
        return await self.holder.off_loop(self.load_state_with_optimizer, path, weights_access_token)

    async def save_weights_for_sampler_async(
        self, name: str, ttl_seconds: int | None = None, user_metadata: Mapping[str, str] | None = None
    ) -> APIFuture[SaveWeightsForSamplerResponse]:
        """:meth:`save_weights_for_sampler`, as a coroutine returning the future."""
        return await self.holder.off_loop(self.save_weights_for_sampler, name, ttl_seconds, user_metadata)

    async def save_weights_external_async(
        self, name: str, ttl_seconds: int | None = None, age_encryption_recipients: Sequence[str] | None = None
    ) -> APIFuture[Any]:
        """:meth:`save_weights_external`, as a coroutine returning the future."""
        return await self.holder.off_loop(self.save_weights_external, name, ttl_seconds, age_encryption_recipients)

    async def create_sampling_client_async(
        self, model_path: str, retry_config: Any = None, record_stability_info: bool = False
    ) -> SamplingClient:
        """:meth:`create_sampling_client`."""
        return await self.holder.run(self.create_sampling_client, model_path, retry_config, record_stability_info)

    async def save_weights_and_get_sampling_client_async(
        self,
        name: str | None = None,
        retry_config: Any = None,
        record_stability_info: bool = False,
        kind: str = "snapshot",
    ) -> SamplingClient:
        """:meth:`save_weights_and_get_sampling_client`."""
        return await self.holder.run(
            self.save_weights_and_get_sampling_client, name, retry_config, record_stability_info, kind
        )

    async def get_info_async(self) -> GetInfoResponse:
        """:meth:`get_info`, as a coroutine."""
        return await self.holder.run(self.get_info)
