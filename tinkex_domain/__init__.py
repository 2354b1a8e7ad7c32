"""Tinkex: the Tinker fine-tuning API SDK, built on Pristine.

Switch from the tinker SDK by changing an import::

    from tinkex_domain import ServiceClient, types

Transport, retries, pools, sessions, future polling, streaming and telemetry come from the
Pristine plugins; this package holds the ML types and the training/sampling orchestration.
"""

from pristine_plugins.futures import APIFuture
from tinkex_domain import types
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
from tinkex_domain.rest_client import RestClient
from tinkex_domain.retry_config import RetryConfig
from tinkex_domain.sampling_client import SamplingClient
from tinkex_domain.service_client import ServiceClient
from tinkex_domain.training_client import TrainingClient
from tinkex_domain.types import AdamParams, Datum, LoraConfig, ModelInput, SamplingParams, TensorData

#: tinker's root error name, for code that catches it.
TinkerError = PristineError

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "GoneError",
    "InternalServerError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "UnprocessableEntityError",
    "retry_after_ms",
    "user_error",
    "APIConnectionError",
    "APIError",
    "APIFuture",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AdamParams",
    "Datum",
    "LoraConfig",
    "ModelInput",
    "PristineError",
    "RequestFailedError",
    "RestClient",
    "RetryConfig",
    "SamplingClient",
    "SamplingParams",
    "ServiceClient",
    "TensorData",
    "TinkerError",
    "TrainingClient",
    "ValidationError",
    "types",
]
