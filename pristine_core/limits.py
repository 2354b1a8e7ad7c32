"""Bounds on what Pristine reads: JSON nesting depth and response sizes.

* :func:`json_depth` measures nesting without recursion; :func:`loads_bounded` parses JSON and
  refuses documents nested deeper than a limit (or than the parser can go) with
  :class:`JSONDepthError`.
* :class:`ResponseTooLargeError` is raised by the transport when a response body grows past the
  cap of its endpoint (``Endpoint.max_response_bytes``, manifest ``defaults.max_response_bytes``,
  per call ``RequestOptions(extensions={"max_response_bytes": n})``) while it is being read.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pristine_core.errors import APIError, APIResponseValidationError

#: Default nesting limit for manifests.
MAX_MANIFEST_DEPTH = 64
#: Default response size cap when the manifest sets none (bytes).
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024


class JSONDepthError(APIResponseValidationError):
    """A JSON document is nested deeper than allowed."""

    def __init__(self, depth_limit: int, where: str = "response") -> None:
        self.depth_limit = depth_limit
        super().__init__(f"{where}: JSON nested deeper than {depth_limit} levels")


class ResponseTooLargeError(APIError):
    """A response body exceeded its size cap while being read (the rest was not read)."""

    category = "server"

    def __init__(self, limit: int, *, method: str = "", url: str = "") -> None:
        self.limit = limit
        super().__init__(
            f"response body larger than {limit} bytes (raise it with "
            "RequestOptions(extensions={'max_response_bytes': n}) or the manifest's max_response_bytes)",
            method=method,
            url=url,
        )


def json_depth(value: Any) -> int:
    """The nesting depth of parsed JSON (0 for a scalar), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
            deepest = max(deepest, depth + 1)
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
            deepest = max(deepest, depth + 1)
    return deepest


def loads_bounded(data: str | bytes, max_depth: int | None = None, **kwargs: Any) -> Any:
    """``json.loads`` that raises :class:`JSONDepthError` for documents nested too deep.

    Without ``max_depth`` the bound is the parser's own (Python's recursion limit, ~1,000
    levels), turned into a typed error at no cost on the hot path; with it, the parsed document's
    depth is measured too (:func:`json_depth`).
    """
    try:
        value = json.loads(data, **kwargs)
    except RecursionError:
        raise JSONDepthError(max_depth or sys.getrecursionlimit()) from None
    if max_depth is not None and json_depth(value) > max_depth:
        raise JSONDepthError(max_depth)
    return value
