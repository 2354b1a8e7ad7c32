"""Turning responses into results: error mapping, redirects as data, typed parsing."""

from __future__ import annotations

import json
from typing import Any

from pristine_core.errors import APIResponseValidationError, APIStatusError, ValidationError, status_error_class
from pristine_core.pipeline import Call, Response
from pristine_runtime.secrets import redact

_MAX_MESSAGE_BODY = 500


def body_of(response: Response) -> Any:
    """The body as JSON when it parses, else as text (for error reports)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return response.text


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def status_error(call: Call, response: Response) -> APIStatusError:
    """The typed error for a non-success response (secrets scrubbed from the body too)."""
    body = _scrub(body_of(response))
    shown = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    message = f"Error code: {response.status_code} - {shown[:_MAX_MESSAGE_BODY]}"
    cls = status_error_class(response.status_code)
    return cls(
        redact(message),
        status_code=response.status_code,
        body=body,
        headers=dict(response.headers),
        request_id=response.headers.get("x-request-id"),
        method=call.endpoint.method,
        url=redact(response.url),
    )


def finish(call: Call, response: Response) -> Any:
    """Raise for error statuses, then let plugins or the core produce the call's result."""
    if call.endpoint.redirects == "return" and 300 <= response.status_code < 400:  # a redirect as data
        data = {
            "url": response.headers.get("location"),
            "status": response.status_code,
            "expires": response.headers.get("expires"),
        }
        return parse(call, response, data)
    if response.status_code >= 300:
        response.content  # noqa: B018 - read the body so the connection is released
        raise status_error(call, response)
    process_response = call.route.hooks.process_response
    if process_response is not None:
        result = process_response(call, response)
        if result is not None:
            return result
    if call.stream:
        return response
    declared = call.endpoint.response
    if not response.content.strip():
        if declared is not None:
            raise APIResponseValidationError(f"{call.endpoint.qualified_name}: empty body where {declared} is declared")
        return None
    try:
        data = response.json()
    except ValueError:
        raise APIResponseValidationError(
            f"{call.endpoint.qualified_name}: response is not JSON", body=response.text[:_MAX_MESSAGE_BODY]
        ) from None
    if declared is not None and _shares_no_field(call, declared, data):
        raise APIResponseValidationError(
            f"{call.endpoint.qualified_name}: the body has none of the fields of {declared}", body=_scrub(data)
        )
    return parse(call, response, data)


def _shares_no_field(call: Call, type_name: str, data: Any) -> bool:
    """True for an object body (``{}`` included) without any property the declared type names."""
    schema = call.client.meta.types.types.get(type_name)
    properties = getattr(schema, "properties", None)
    if not isinstance(data, dict) or not properties:
        return False
    return data.keys().isdisjoint(properties)


def parse(call: Call, response: Response, data: Any, type_name: str | None = None) -> Any:
    """Parse ``data`` into the declared response type (or return it as is when none)."""
    name = type_name or call.endpoint.response
    if name is None:
        return data
    try:
        return call.client.meta.types.parse(name, data)
    except ValidationError as exc:
        raise APIResponseValidationError(
            f"{call.endpoint.qualified_name}: malformed response: {exc.message}", body=data, errors=exc.errors
        ) from None
