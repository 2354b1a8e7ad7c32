"""Results of training, weights, model and sampling calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from pristine_core.errors import APIResponseValidationError
from tinkex_domain.types._common import float_map
from tinkex_domain.types.tensor import TensorData, to_tensor


def _outputs(value: Any) -> list[dict[str, TensorData]]:
    return [{str(k): to_tensor(str(k), v, "ForwardBackwardOutput") for k, v in dict(item).items()} for item in value]


@attrs.frozen(kw_only=True)
class ForwardBackwardOutput:
    """Per-datum ``loss_fn_outputs`` (e.g. ``logprobs``) and ``metrics`` named ``name:reduction``.

    As in tinker there is no ``loss`` attribute: the loss is a metric (e.g. ``loss:sum``).
    """

    loss_fn_output_type: str = "ArrayRecord"
    loss_fn_outputs: list[dict[str, TensorData]] = attrs.field(factory=list, converter=_outputs)
    metrics: dict[str, float] = attrs.field(
        factory=dict, converter=lambda v: float_map("ForwardBackwardOutput", "metrics", v)
    )


@attrs.frozen(kw_only=True)
class OptimStepResponse:
    """The result of ``optim_step``: optional metrics."""

    metrics: dict[str, float] | None = None
    type: str | None = None


@attrs.frozen(kw_only=True)
class SaveWeightsResponse:
    """``save_state``: the ``tinker://…/weights/<name>`` path."""

    path: str
    type: str | None = None


@attrs.frozen(kw_only=True)
class SaveWeightsForSamplerResponse:
    """``save_weights_for_sampler``: a sampler path and/or an ephemeral sampling session id."""

    path: str | None = None
    sampling_session_id: str | None = None
    type: str | None = None


@attrs.frozen(kw_only=True)
class LoadWeightsResponse:
    """``load_state``: the loaded path (and model id when a model was created)."""

    path: str | None = None
    model_id: str | None = None
    type: str | None = None


@attrs.frozen(kw_only=True)
class CreateModelResponse:
    """``create_model``'s result: the new model id."""

    model_id: str
    type: str | None = None


@attrs.frozen(kw_only=True)
class UnloadModelResponse:
    """``unload_model``'s result."""

    model_id: str
    type: str | None = None


@attrs.frozen(kw_only=True)
class ModelData:
    """Architecture, model name and tokenizer id of a model."""

    arch: str | None = None
    model_name: str | None = None
    tokenizer_id: str | None = None


@attrs.frozen(kw_only=True)
class GetInfoResponse:
    """``get_info``: model id, model data and LoRA details."""

    model_id: str
    model_data: ModelData = attrs.Factory(ModelData)
    is_lora: bool | None = None
    lora_rank: int | None = None
    model_name: str | None = None
    type: str | None = None


@attrs.frozen(kw_only=True)
class WeightsInfoResponse:
    """What a checkpoint was trained from: base model, LoRA rank and trained parts."""

    base_model: str
    is_lora: bool
    lora_rank: int | None = None
    train_unembed: bool | None = None
    train_mlp: bool | None = None
    train_attn: bool | None = None


@attrs.frozen(kw_only=True)
class SampledSequence:
    """One generated sequence: tokens, their logprobs and why it stopped."""

    stop_reason: str
    tokens: list[int] = attrs.field(converter=list)
    logprobs: list[float] | None = None
    #: Per generated token, its ``topk_sample_logprobs`` most likely ``(token, logprob)`` pairs.
    topk_logprobs: list[list[tuple[int, float]] | None] | None = attrs.field(
        default=None, converter=lambda v: _topk(v)
    )
    #: Session-scoped id of this sequence (from the submit reply's ``sample_sequence_ids``); it
    #: names the sample, so it takes no part in comparing two sequences' contents.
    sequence_id: str | None = attrs.field(default=None, eq=False)

    @property
    def tokens_np(self) -> np.ndarray:
        """``tokens`` as an int64 array."""
        return np.asarray(self.tokens, dtype=np.int64)

    @property
    def logprobs_np(self) -> np.ndarray | None:
        """``logprobs`` as a float32 array (None when absent)."""
        return None if self.logprobs is None else np.asarray(self.logprobs, dtype=np.float32)


def _topk(value: Any) -> list[list[tuple[int, float]] | None] | None:
    if value is None:
        return None
    return [None if row is None else [(int(t), float(lp)) for t, lp in row] for row in value]


@attrs.frozen(kw_only=True)
class SampleResponse:
    """``sample``: the sequences plus optional prompt logprobs (first entry None)."""

    sequences: list[SampledSequence] = attrs.field(converter=list)
    prompt_logprobs: list[float | None] | None = None
    topk_prompt_logprobs: list[list[tuple[int, float]] | None] | None = attrs.field(default=None, converter=_topk)
    prompt_cache_hit_tokens: int | None = None
    type: str | None = None
    #: The logprobs of the requested ``target_prompt_logprobs`` tokens (0.0 where it had -1).
    target_prompt_logprobs: TensorData | None = None
    #: ``prompt_alt_tokens_k`` alternatives per prompt position: ``.tokens`` and ``.logprobs`` tensors.
    prompt_alt_tokens: Any = None

    def with_sequence_ids(self, ids: Sequence[str]) -> SampleResponse:
        """This response with ``ids[i]`` as the ``sequence_id`` of sequence ``i`` (one per sequence)."""
        if len(ids) != len(self.sequences):
            raise APIResponseValidationError(
                f"sample_sequence_ids: {len(ids)} ids for {len(self.sequences)} sequences")
        changes: dict[str, Any] = {
            "sequences": [attrs.evolve(seq, sequence_id=i) for seq, i in zip(self.sequences, ids, strict=True)]
        }
        return attrs.evolve(self, **changes)

    @property
    def prompt_logprobs_np(self) -> np.ndarray | None:
        """Prompt logprobs as float32 with NaN for missing entries."""
        if self.prompt_logprobs is None:
            return None
        return np.asarray([np.nan if x is None else x for x in self.prompt_logprobs], dtype=np.float32)


@attrs.frozen(kw_only=True)
class SampleStreamChunk:
    """One event of ``sample_stream``: ``token`` (text, id, index, logprob), ``done`` or ``error``."""

    event_type: str | None = None
    token: str | None = None
    token_id: int | None = None
    index: int | None = None
    logprob: float | None = None
    finish_reason: str | None = None
    total_tokens: int | None = None
    error: str | None = None
    category: str | None = None

    @property
    def done(self) -> bool:
        """True for the final event (``done`` or ``error``)."""
        return self.event_type in ("done", "error") or self.finish_reason is not None or self.error is not None

    @classmethod
    def from_event(cls, event_type: str | None, data: Mapping[str, Any]) -> SampleStreamChunk:
        """Build from an SSE event name and its JSON data (unknown keys ignored)."""
        names = {f.name for f in attrs.fields(cls)}
        fields = {k: v for k, v in data.items() if k in names and k != "event_type"}
        kind = event_type or ("error" if "error" in data else "done" if "finish_reason" in data else "token")
        return cls(event_type=kind, **fields)


@attrs.frozen(kw_only=True)
class GetSamplerResponse:
    """A sampler's id, base model and (for saved weights) model path."""

    sampler_id: str
    base_model: str
    model_path: str | None = None


@attrs.frozen(kw_only=True)
class CreateSamplingSessionResponse:
    """The id of a new sampling session."""

    sampling_session_id: str
    type: str | None = None


@attrs.frozen(kw_only=True)
class CreateSessionResponse:
    """``create_session``: the session id and optional server messages."""

    session_id: str
    info_message: str | None = None
    warning_message: str | None = None
    error_message: str | None = None
    type: str | None = None


@attrs.frozen(kw_only=True)
class SupportedModel:
    """A model the service can fine-tune or sample."""

    model_name: str | None = None
    model_id: str | None = None
    arch: str | None = None
    max_context_length: int | None = None


@attrs.frozen(kw_only=True)
class GetServerCapabilitiesResponse:
    """The models the service supports."""

    supported_models: list[SupportedModel] = attrs.Factory(list)

    def model_names(self) -> list[str]:
        """The names of the supported models (entries without a name skipped)."""
        return [m.model_name for m in self.supported_models if m.model_name]


@attrs.frozen(kw_only=True)
class HealthResponse:
    """``healthz``."""

    status: str
