"""Pristine: HTTP API SDKs declared in a manifest, with features as pluggy plugins.

The public surface: :class:`Client`, :func:`load_manifest`, the error hierarchy, the pipeline
objects plugins see, ``hookimpl`` for implementing hooks, and the priority bands.
"""

__version__ = "0.1.0"

from pristine_core.client import Client, Resource
from pristine_core.clock import SYSTEM_CLOCK, Clock, FakeClock, SystemClock
from pristine_core.errors import (
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
    ManifestError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    PluginLoadError,
    PristineError,
    RateLimitError,
    RequestFailedError,
    RequestTimeoutError,
    UnprocessableEntityError,
    ValidationError,
)
from pristine_core.hookspecs import hookimpl
from pristine_core.manifest import Manifest, load_manifest
from pristine_core.pipeline import (
    Call,
    EncodedBody,
    Event,
    Middleware,
    Request,
    RequestOptions,
    Response,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "Call",
    "Client",
    "Clock",
    "ConflictError",
    "EncodedBody",
    "Event",
    "FakeClock",
    "GoneError",
    "InternalServerError",
    "Manifest",
    "ManifestError",
    "Middleware",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PluginLoadError",
    "PristineError",
    "RateLimitError",
    "Request",
    "RequestFailedError",
    "RequestOptions",
    "RequestTimeoutError",
    "Resource",
    "Response",
    "SYSTEM_CLOCK",
    "SystemClock",
    "UnprocessableEntityError",
    "ValidationError",
    "__version__",
    "hookimpl",
    "load_manifest",
]
