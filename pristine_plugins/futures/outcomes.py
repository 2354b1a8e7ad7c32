"""What a matched rule turns a reply into: the result value, or the failure to raise.

Shared by the poller (retrieve replies) and the plugin (a submit reply that already holds the
result). A result body that is not JSON goes through the ``pristine_decode_result`` hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pristine_core.errors import APIResponseValidationError, RequestFailedError, ValidationError
from pristine_plugins.futures.matching import MISSING, ReplyView, json_path
from pristine_plugins.futures.replies import ReplyRule

if TYPE_CHECKING:
    from pristine_core.client import Client


def parse_result(client: Client, endpoint: str, result_type: str | None, data: Any) -> Any:
    """Parse a result payload into ``result_type`` (the data itself when None)."""
    if result_type is None:
        return data
    try:
        return client.meta.types.parse(result_type, data)
    except ValidationError as exc:
        raise APIResponseValidationError(
            f"{endpoint}: malformed future result: {exc.message}", body=data, errors=exc.errors
        ) from None


def decode(client: Client, endpoint: str, view: ReplyView) -> Any:
    """A non-JSON result body decoded by a ``pristine_decode_result`` hook (None: no decoder)."""
    if view.response is None or not endpoint:
        return None
    try:
        declared = client.meta.manifest.endpoint(endpoint)
    except KeyError:
        return None
    return client.meta.hook.pristine_decode_result(endpoint=declared, response=view.response)


def success_value(client: Client, endpoint: str, result_type: str | None, rule: ReplyRule, view: ReplyView) -> Any:
    """The result a ``success`` rule resolves to, parsed into ``result_type``.

    A body whose content type is not JSON (and not absent) goes to the decode hook first. JSON
    bodies: the value at ``rule.result`` (the whole body by default). Other bodies: what the
    decode hook returns; with no decoder the raw bytes for an untyped endpoint, else
    :class:`APIResponseValidationError`.
    """
    jsonish = not view.media_type or "json" in view.media_type
    if not jsonish:  # e.g. protobuf or CSV: a decoder knows better than a lucky JSON parse
        decoded = decode(client, endpoint, view)
        if decoded is not None:
            return parse_result(client, endpoint, result_type, decoded)
    if view.is_json:
        value = json_path(view.data, rule.result or "")
        if value is MISSING:
            raise APIResponseValidationError(
                f"{endpoint}: the future result has nothing at {rule.result!r}", body=view.data
            )
        return parse_result(client, endpoint, result_type, value)
    decoded = decode(client, endpoint, view) if jsonish else None
    if decoded is not None:
        return parse_result(client, endpoint, result_type, decoded)
    if result_type is not None:
        raise APIResponseValidationError(
            f"{endpoint}: future result is not JSON ({view.media_type or 'no content type'})",
            body=view.text[:500],
        )
    return view.response.content if view.response is not None else None


def _first_text(data: Any, paths: tuple[str, ...]) -> str | None:
    for path in paths:
        value = json_path(data, path)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
            return str(value)
    return None


def failure(rule: ReplyRule, view: ReplyView, request_id: str | None) -> RequestFailedError:
    """The :class:`RequestFailedError` a ``failure`` rule raises: message and category found at
    the rule's paths (category ``unknown`` unless ``user`` or ``server``)."""
    data = view.data
    message = _first_text(data, rule.message_paths) if data is not MISSING else None
    if message is None and data is MISSING and view.text.strip():
        message = view.text.strip()[:500]
    category = _first_text(data, rule.category_paths) if data is not MISSING else None
    text = message if message is not None else f"request {request_id} failed"
    return RequestFailedError(text, request_id=request_id, category=(category or "unknown").strip().lower())
