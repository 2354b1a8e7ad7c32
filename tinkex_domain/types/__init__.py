"""Tinkex value types, named and shaped as in the tinker SDK (``from tinkex_domain import types``).

:data:`TYPE_CLASSES` maps manifest type names to these classes; the domain plugin hands it to
the core so that requests are dumped from, and responses parsed into, these classes.
"""

from tinkex_domain.types.model_input import (
    EncodedTextChunk,
    ImageAssetPointerChunk,
    ImageChunk,
    ModelInput,
    ModelInputChunk,
)
from tinkex_domain.types.outputs import (
    CreateModelResponse,
    CreateSamplingSessionResponse,
    CreateSessionResponse,
    ForwardBackwardOutput,
    GetInfoResponse,
    GetSamplerResponse,
    GetServerCapabilitiesResponse,
    HealthResponse,
    LoadWeightsResponse,
    ModelData,
    OptimStepResponse,
    SampledSequence,
    SampleResponse,
    SampleStreamChunk,
    SaveWeightsForSamplerResponse,
    SaveWeightsResponse,
    SupportedModel,
    UnloadModelResponse,
    WeightsInfoResponse,
)
from tinkex_domain.types.params import (
    LOSS_FUNCTIONS,
    AdamParams,
    LoraConfig,
    LossFnType,
    SamplingParams,
    StopReason,
)
from tinkex_domain.types.rest import (
    ACCESS_SCOPES,
    AccessScope,
    Checkpoint,
    CheckpointArchiveUrlResponse,
    CheckpointsListResponse,
    CheckpointType,
    Cursor,
    GetSessionResponse,
    ListSessionsResponse,
    ParsedCheckpointTinkerPath,
    TrainingRun,
    TrainingRunsResponse,
)
from tinkex_domain.types.tensor import KNOWN_INPUT_DTYPES, Datum, TensorData, TensorDtype

#: Manifest type name → the class the core builds for it.
TYPE_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        EncodedTextChunk,
        ImageChunk,
        ImageAssetPointerChunk,
        ModelInput,
        TensorData,
        Datum,
        SamplingParams,
        AdamParams,
        LoraConfig,
        ForwardBackwardOutput,
        OptimStepResponse,
        SaveWeightsResponse,
        SaveWeightsForSamplerResponse,
        LoadWeightsResponse,
        CreateModelResponse,
        UnloadModelResponse,
        ModelData,
        GetInfoResponse,
        WeightsInfoResponse,
        SampledSequence,
        SampleResponse,
        SampleStreamChunk,
        GetSamplerResponse,
        CreateSamplingSessionResponse,
        CreateSessionResponse,
        SupportedModel,
        GetServerCapabilitiesResponse,
        HealthResponse,
        Cursor,
        Checkpoint,
        CheckpointsListResponse,
        TrainingRun,
        TrainingRunsResponse,
        ListSessionsResponse,
        GetSessionResponse,
        CheckpointArchiveUrlResponse,
    )
}

__all__ = [
    "ACCESS_SCOPES",
    "KNOWN_INPUT_DTYPES",
    "LOSS_FUNCTIONS",
    "TYPE_CLASSES",
    "AccessScope",
    "AdamParams",
    "Checkpoint",
    "CheckpointArchiveUrlResponse",
    "CheckpointType",
    "CheckpointsListResponse",
    "CreateModelResponse",
    "CreateSamplingSessionResponse",
    "CreateSessionResponse",
    "Cursor",
    "Datum",
    "EncodedTextChunk",
    "ForwardBackwardOutput",
    "GetInfoResponse",
    "GetSamplerResponse",
    "GetServerCapabilitiesResponse",
    "GetSessionResponse",
    "HealthResponse",
    "ImageAssetPointerChunk",
    "ImageChunk",
    "ListSessionsResponse",
    "LoadWeightsResponse",
    "LoraConfig",
    "LossFnType",
    "ModelData",
    "ModelInput",
    "ModelInputChunk",
    "OptimStepResponse",
    "ParsedCheckpointTinkerPath",
    "SampleResponse",
    "SampleStreamChunk",
    "SampledSequence",
    "SamplingParams",
    "SaveWeightsForSamplerResponse",
    "SaveWeightsResponse",
    "StopReason",
    "SupportedModel",
    "TensorData",
    "TensorDtype",
    "TrainingRun",
    "TrainingRunsResponse",
    "UnloadModelResponse",
    "WeightsInfoResponse",
]

#: tinker.types names whose hand-written classes live outside this package (they import it).
_HELPERS = {
    "AdamOptimizerConfig": "tinkex_domain.optimizers",
    "DimuonOptimizerConfig": "tinkex_domain.optimizers",
    "DimuonParams": "tinkex_domain.optimizers",
    "OptimizerConfig": "tinkex_domain.optimizers",
    "OptimParams": "tinkex_domain.optimizers",
    "RequestErrorCategory": "tinkex_domain.request_errors",
    "RequestFailedResponse": "tinkex_domain.request_errors",
}


def __getattr__(name: str) -> object:
    """Resolve the helper names of :data:`_HELPERS` on first use (no import cycle)."""
    module = _HELPERS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
