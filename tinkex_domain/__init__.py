"""Tinkex: the Tinker fine-tuning API SDK, built on Pristine.

Switch from the tinker SDK by changing an import::

    from tinkex import ServiceClient, types

``tinkex`` is the public import name (an alias whose modules are this package's modules);
``tinkex_domain`` is the implementation package and keeps working.

Transport, retries, pools, sessions, future polling, streaming and telemetry come from the
Pristine plugins; this package holds the ML types and the training/sampling orchestration.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import TYPE_CHECKING

from pristine_core.lazy import lazy_exports

#: Public name -> the module that defines it, imported on first use (numpy and the manifest
#: machinery load only when a client or a type is asked for).
_MODULES = {
    "pristine_core.pipeline": "RequestOptions",
    "pristine_plugins.futures": "APIFuture",
    "tinkex_domain.admin_client": "AdminClient",
    "tinkex_domain.errors": (
        "APIConnectionError APIError APIResponseValidationError APIStatusError APITimeoutError "
        "AuthenticationError BadRequestError ConflictError GoneError InternalServerError NotFoundError "
        "PaymentRequiredError PermissionDeniedError PristineError RateLimitError RequestFailedError "
        "RequestTimeoutError UnprocessableEntityError ValidationError retry_after_ms user_error"
    ),
    "tinkex_domain.loss_handle": "LossHandle PerDatumLossFn",
    "tinkex_domain.optimizers": "AdamOptimizerConfig DimuonOptimizerConfig DimuonParams OptimizerConfig OptimParams",
    "tinkex_domain.request_errors": "RequestErrorCategory RequestFailedResponse Timeout",
    "tinkex_domain.rest_account": "ExperimentalWarning",
    "tinkex_domain.rest_client": "RestClient",
    "tinkex_domain.retry_config": "RetryConfig",
    "tinkex_domain.sampling_client": "SamplingClient",
    "tinkex_domain.service_client": "ServiceClient",
    "tinkex_domain.training_client": "TrainingClient",
    "tinkex_domain.types": (
        "AdamParams Checkpoint CheckpointType Datum DmelChunk EncodedTextChunk ForwardBackwardOutput "
        "LoraConfig ModelID ModelInput ModelInputChunk OptimStepRequest OptimStepResponse "
        "ParsedCheckpointTinkerPath PromptProvenanceSpan SampledProvenanceSpan SampledSequence "
        "SampleRequest SampleResponse SamplingParams StopReason TensorData TensorDtype TrainingRun"
    ),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names.split()}
_EXPORTS.update(
    {
        "types": "tinkex_domain.types:",
        # tinker's names: its root error, HTTP 402, and 0.38's create_* futures (Tinkex returns the
        # client, which answers result() / result_async() itself).
        "TinkerError": "tinkex_domain.errors:PristineError",
        "BillingError": "tinkex_domain.errors:PaymentRequiredError",
        "BackcompatTrainingClientFuture": "tinkex_domain.training_client:TrainingClient",
        "BackcompatSamplingClientFuture": "tinkex_domain.sampling_client:SamplingClient",
    }
)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__title__ = "tinkex"
try:
    __version__ = _dist_version("tinkex")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from pristine_core.pipeline import RequestOptions
    from pristine_plugins.futures import APIFuture
    from tinkex_domain import types
    from tinkex_domain.admin_client import AdminClient
    from tinkex_domain.errors import (
        APIConnectionError,
        APIError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        GoneError,
        InternalServerError,
        NotFoundError,
        PaymentRequiredError,
        PermissionDeniedError,
        PristineError,
        RateLimitError,
        RequestFailedError,
        RequestTimeoutError,
        UnprocessableEntityError,
        ValidationError,
        retry_after_ms,
        user_error,
    )
    from tinkex_domain.loss_handle import LossHandle, PerDatumLossFn
    from tinkex_domain.optimizers import (
        AdamOptimizerConfig,
        DimuonOptimizerConfig,
        DimuonParams,
        OptimizerConfig,
        OptimParams,
    )
    from tinkex_domain.request_errors import RequestErrorCategory, RequestFailedResponse, Timeout
    from tinkex_domain.rest_account import ExperimentalWarning
    from tinkex_domain.rest_client import RestClient
    from tinkex_domain.retry_config import RetryConfig
    from tinkex_domain.sampling_client import SamplingClient
    from tinkex_domain.service_client import ServiceClient
    from tinkex_domain.training_client import TrainingClient
    from tinkex_domain.types import (
        AdamParams,
        Checkpoint,
        CheckpointType,
        Datum,
        DmelChunk,
        EncodedTextChunk,
        ForwardBackwardOutput,
        LoraConfig,
        ModelID,
        ModelInput,
        ModelInputChunk,
        OptimStepRequest,
        OptimStepResponse,
        ParsedCheckpointTinkerPath,
        PromptProvenanceSpan,
        SampledProvenanceSpan,
        SampledSequence,
        SampleRequest,
        SampleResponse,
        SamplingParams,
        StopReason,
        TensorData,
        TensorDtype,
        TrainingRun,
    )

    TinkerError = PristineError
    BillingError = PaymentRequiredError
    BackcompatTrainingClientFuture = TrainingClient
    BackcompatSamplingClientFuture = SamplingClient

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIFuture",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AdamOptimizerConfig",
    "AdamParams",
    "AdminClient",
    "AuthenticationError",
    "BackcompatSamplingClientFuture",
    "BackcompatTrainingClientFuture",
    "BadRequestError",
    "BillingError",
    "Checkpoint",
    "CheckpointType",
    "ConflictError",
    "Datum",
    "DimuonOptimizerConfig",
    "DimuonParams",
    "DmelChunk",
    "EncodedTextChunk",
    "ExperimentalWarning",
    "ForwardBackwardOutput",
    "GoneError",
    "InternalServerError",
    "LoraConfig",
    "LossHandle",
    "ModelID",
    "ModelInput",
    "ModelInputChunk",
    "NotFoundError",
    "OptimParams",
    "OptimStepRequest",
    "OptimStepResponse",
    "OptimizerConfig",
    "ParsedCheckpointTinkerPath",
    "PaymentRequiredError",
    "PerDatumLossFn",
    "PermissionDeniedError",
    "PristineError",
    "PromptProvenanceSpan",
    "RateLimitError",
    "RequestErrorCategory",
    "RequestFailedError",
    "RequestFailedResponse",
    "RequestOptions",
    "RequestTimeoutError",
    "RestClient",
    "RetryConfig",
    "SampleRequest",
    "SampleResponse",
    "SampledProvenanceSpan",
    "SampledSequence",
    "SamplingClient",
    "SamplingParams",
    "ServiceClient",
    "StopReason",
    "TensorData",
    "TensorDtype",
    "Timeout",
    "TinkerError",
    "TrainingClient",
    "TrainingRun",
    "UnprocessableEntityError",
    "ValidationError",
    "__title__",
    "__version__",
    "retry_after_ms",
    "types",
    "user_error",
]
