"""Semantic checks of a structurally valid manifest: references, paths, names, duplicates."""

from __future__ import annotations

import keyword
import re
from typing import Any

from pristine_core.manifest import models
from pristine_core.typesystem.schema_checks import type_problems

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: Client attributes that a resource name must not shadow.
RESERVED_RESOURCE_NAMES = frozenset({"close", "manifest", "plugins", "transport", "hook", "emit", "config"})
#: Endpoint method attributes that an endpoint name must not shadow.
RESERVED_ENDPOINT_NAMES = frozenset({"raw", "endpoint", "describe"})


def semantic_problems(manifest: models.Manifest) -> list[tuple[str, str]]:
    """Every semantic problem of ``manifest`` as ``(json_path, message)`` pairs."""
    problems: list[tuple[str, str]] = []
    problems += _name_problems(manifest)
    problems += _endpoint_problems(manifest)
    problems += type_problems(manifest.types)
    problems += _feature_reference_problems(manifest)
    if manifest.defaults.pool and manifest.defaults.pool not in manifest.pools:
        problems.append(("defaults.pool", f"unknown pool {manifest.defaults.pool!r}{_known(manifest.pools)}"))
    if manifest.defaults.retry and manifest.defaults.retry not in manifest.retry_policies:
        problems.append(
            ("defaults.retry", f"unknown retry policy {manifest.defaults.retry!r}{_known(manifest.retry_policies)}")
        )
    for name, policy in manifest.retry_policies.items():
        problems += _policy_problems(f"retry_policies.{name}", policy)
    for name, pool in manifest.pools.items():
        if pool.connections < 1:
            problems.append((f"pools.{name}.connections", "must be at least 1"))
        if pool.concurrency is not None and pool.concurrency < 1:
            problems.append((f"pools.{name}.concurrency", "must be at least 1"))
    if manifest.defaults.timeout_s <= 0:
        problems.append(("defaults.timeout_s", "must be positive"))
    if manifest.defaults.max_response_bytes is not None and manifest.defaults.max_response_bytes <= 0:
        problems.append(("defaults.max_response_bytes", "must be positive"))
    return problems


def _known(options: Any) -> str:
    names = sorted(options)
    return f" (known: {', '.join(names)})" if names else " (none declared)"


def _name_problems(manifest: models.Manifest) -> list[tuple[str, str]]:
    problems = []
    for rname, group in manifest.resources.items():
        if not _IDENT.match(rname) or keyword.iskeyword(rname) or rname.startswith("_"):
            problems.append((f"resources.{rname}", "resource names must be Python identifiers"))
        elif rname in RESERVED_RESOURCE_NAMES:
            problems.append((f"resources.{rname}", "this name is reserved by the client"))
        for ename in group:
            if not _IDENT.match(ename) or keyword.iskeyword(ename) or ename.startswith("_"):
                problems.append((f"resources.{rname}.{ename}", "endpoint names must be Python identifiers"))
            elif ename in RESERVED_ENDPOINT_NAMES:
                problems.append((f"resources.{rname}.{ename}", "this name is reserved by the client"))
    for tname in manifest.types:
        if not _IDENT.match(tname):
            problems.append((f"types.{tname}", "type names must be identifiers"))
    return problems


def _endpoint_problems(manifest: models.Manifest) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[str, str], str] = {}
    for ep in manifest.endpoints():
        at = f"resources.{ep.resource}.{ep.name}"
        if ep.method not in models.HTTP_METHODS:
            problems.append((f"{at}.method", f"must be one of {', '.join(models.HTTP_METHODS)}"))
        problems += _path_problems(f"{at}.path", ep.path)
        key = (ep.method, re.sub(r"\{[^}]*\}", "{}", ep.path))
        if key in seen:
            problems.append((at, f"same method and path as {seen[key]}"))
        else:
            seen[key] = at
        for field in ("request", "response", "result", "stream_event"):
            ref = getattr(ep, field)
            if ref is not None and ref not in manifest.types:
                problems.append((f"{at}.{field}", f"unknown type {ref!r}"))
        if ep.request is not None and ep.request in manifest.types:
            schema = manifest.types[ep.request]
            if schema.type != "object" and not schema.one_of:
                problems.append((f"{at}.request", "a request type must be an object"))
        if ep.pool is not None and ep.pool not in manifest.pools:
            problems.append((f"{at}.pool", f"unknown pool {ep.pool!r}{_known(manifest.pools)}"))
        if ep.retry is not None and ep.retry not in manifest.retry_policies:
            problems.append((f"{at}.retry", f"unknown retry policy {ep.retry!r}{_known(manifest.retry_policies)}"))
        if ep.circuit_breaker is not None and ep.circuit_breaker not in manifest.circuit_breakers:
            problems.append((f"{at}.circuit_breaker", f"unknown circuit breaker {ep.circuit_breaker!r}"))
        if ep.timeout_s is not None and ep.timeout_s <= 0:
            problems.append((f"{at}.timeout_s", "must be positive"))
        if ep.max_response_bytes is not None and ep.max_response_bytes <= 0:
            problems.append((f"{at}.max_response_bytes", "must be positive"))
        for qname in ep.query:
            if qname in ep.path_params:
                problems.append((f"{at}.query.{qname}", "clashes with a path parameter"))
        if ep.future and ep.stream:
            problems.append((at, "an endpoint cannot be both future and stream"))
    return problems


def _path_problems(at: str, path: str) -> list[tuple[str, str]]:
    problems = []
    if not path.startswith("/"):
        problems.append((at, "must start with '/'"))
    names = _PLACEHOLDER.findall(path)
    stripped = _PLACEHOLDER.sub("", path)
    if "{" in stripped or "}" in stripped:
        problems.append((at, "unbalanced '{' or '}'"))
    names = [n[1:] if n.startswith("+") else n for n in names]
    for name in names:
        if not _IDENT.match(name):
            problems.append((at, f"path parameter {{{name}}} must be an identifier"))
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append((at, f"duplicate path parameter(s): {', '.join(duplicates)}"))
    return problems


def _policy_problems(at: str, policy: models.RetryPolicy) -> list[tuple[str, str]]:
    problems = []
    if policy.max_retries < 0:
        problems.append((f"{at}.max_retries", "must be >= 0"))
    if policy.base_delay_s < 0 or policy.max_delay_s < 0:
        problems.append((at, "delays must be >= 0"))
    if not 0 <= policy.jitter <= 1:
        problems.append((f"{at}.jitter", "must be between 0 and 1"))
    for status in policy.pause_statuses:
        if not status.isdigit():
            problems.append((f"{at}.pause_statuses.{status}", "keys must be HTTP status codes"))
    return problems


def _feature_reference_problems(manifest: models.Manifest) -> list[tuple[str, str]]:
    """Check references inside feature blocks by key naming convention.

    ``endpoint``/``*_endpoint`` (string) and ``endpoints`` (list) name ``resource.endpoint``;
    ``*_type`` names a type; ``pool`` names a pool; ``retry`` names a retry policy.
    """
    qualified = {ep.qualified_name for ep in manifest.endpoints()}
    problems: list[tuple[str, str]] = []

    def walk(node: Any, at: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                path = f"{at}.{key}"
                if key == "endpoint" or key.endswith("_endpoint"):
                    check(value, qualified, path, "endpoint")
                elif key == "endpoints" and isinstance(value, list):
                    for i, item in enumerate(value):
                        check(item, qualified, f"{path}[{i}]", "endpoint")
                elif key.endswith("_type") and isinstance(value, str):
                    check(value, manifest.types, path, "type")
                elif key == "pool" and isinstance(value, str):
                    check(value, manifest.pools, path, "pool")
                elif key == "retry" and isinstance(value, str):
                    check(value, manifest.retry_policies, path, "retry policy")
                else:
                    walk(value, path)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{at}[{i}]")

    def check(value: Any, known: Any, path: str, what: str) -> None:
        if value is None:
            return
        if not isinstance(value, str) or value not in known:
            problems.append((path, f"unknown {what} {value!r}"))

    for name, block in manifest.features.items():
        walk(block, f"features.{name}")
    return problems
