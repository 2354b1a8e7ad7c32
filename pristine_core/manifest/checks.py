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
RESERVED_RESOURCE_NAMES = frozenset({"close", "meta"})
#: Endpoint method attributes that an endpoint name must not shadow.
RESERVED_ENDPOINT_NAMES = frozenset({"raw", "endpoint", "describe"})


def semantic_problems(manifest: models.Manifest) -> list[tuple[str, str]]:
    """Every semantic problem of ``manifest`` as ``(json_path, message)`` pairs."""
    problems: list[tuple[str, str]] = []
    problems += _name_problems(manifest)
    problems += _endpoint_problems(manifest)
    problems += type_problems(manifest.types)
    if manifest.defaults.timeout_s <= 0:
        problems.append(("defaults.timeout_s", "must be positive"))
    if manifest.defaults.max_response_bytes is not None and manifest.defaults.max_response_bytes <= 0:
        problems.append(("defaults.max_response_bytes", "must be positive"))
    if manifest.defaults.scheduler_workers < 1:
        problems.append(("defaults.scheduler_workers", "must be at least 1"))
    return problems


def known_names(options: Any) -> str:
    """`` (known: a, b)`` or `` (none declared)``, for "unknown X" messages."""
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
        for field in ("request", "response"):
            ref = getattr(ep, field)
            if ref is not None and ref not in manifest.types:
                problems.append((f"{at}.{field}", f"unknown type {ref!r}"))
        if ep.request is not None and ep.request in manifest.types:
            schema = manifest.types[ep.request]
            if schema.type != "object" and not schema.one_of:
                problems.append((f"{at}.request", "a request type must be an object"))
        if ep.timeout_s is not None and ep.timeout_s <= 0:
            problems.append((f"{at}.timeout_s", "must be positive"))
        if ep.max_response_bytes is not None and ep.max_response_bytes <= 0:
            problems.append((f"{at}.max_response_bytes", "must be positive"))
        for qname in ep.query:
            if qname in ep.path_params:
                problems.append((f"{at}.query.{qname}", "clashes with a path parameter"))
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


def reference_problems(manifest: models.Manifest, at: str, value: str | None, kind: str) -> list[tuple[str, str]]:
    """A problem when ``value`` (not None) names no ``kind`` of the manifest.

    ``kind`` is ``"endpoint"`` (``resource.endpoint``) or ``"type"``; plugins use this in
    ``pristine_validate_manifest`` for the references their settings hold.
    """
    if value is None:
        return []
    if kind == "endpoint":
        resource, _, name = value.partition(".")
        found = name in manifest.resources.get(resource, {})
    else:
        found = value in manifest.types
    return [] if found else [(at, f"unknown {kind} {value!r}")]
