"""Semantic checks of a structurally valid manifest: references, paths, names, duplicates."""

from __future__ import annotations

import keyword
import re
from typing import Any

from pristine_core.manifest import models
from pristine_core.typesystem.schema_checks import type_problems

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Client attributes that a resource name must not shadow.
RESERVED_RESOURCE_NAMES = frozenset({"close", "meta"})
#: Endpoint method attributes that an endpoint name must not shadow.
RESERVED_ENDPOINT_NAMES = frozenset({"raw", "endpoint", "describe"})


def semantic_problems(manifest: models.Manifest) -> list[tuple[str, str]]:
    """Every semantic problem of ``manifest`` as ``(json_path, message)`` pairs."""
    return _name_problems(manifest) + _endpoint_problems(manifest) + type_problems(manifest.types)


def known_names(options: Any) -> str:
    """`` (known: a, b)`` or `` (none declared)``, for "unknown X" messages."""
    names = sorted(options)
    return f" (known: {', '.join(names)})" if names else " (none declared)"


def _name_problems(manifest: models.Manifest) -> list[tuple[str, str]]:
    problems = []
    for rname, group in manifest.resources.items():
        problems += _identifier_problems(f"resources.{rname}", rname, "resource", RESERVED_RESOURCE_NAMES)
        for ename in group:
            at = f"resources.{rname}.{ename}"
            problems += _identifier_problems(at, ename, "endpoint", RESERVED_ENDPOINT_NAMES)
    for tname in manifest.types:
        if not _IDENT.match(tname):
            problems.append((f"types.{tname}", "type names must be identifiers"))
    return problems


def _identifier_problems(at: str, name: str, kind: str, reserved: frozenset[str]) -> list[tuple[str, str]]:
    if not _IDENT.match(name) or keyword.iskeyword(name) or name.startswith("_"):
        return [(at, f"{kind} names must be Python identifiers")]
    return [(at, "this name is reserved by the client")] if name in reserved else []


def _endpoint_problems(manifest: models.Manifest) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[str, str], str] = {}
    for ep in manifest.endpoints():
        at = f"resources.{ep.resource}.{ep.name}"
        if ep.method not in models.HTTP_METHODS:
            problems.append((f"{at}.method", f"must be one of {', '.join(models.HTTP_METHODS)}"))
        problems += _path_problems(f"{at}.path", ep.path)
        key = (ep.method, models.PATH_PARAM.sub("{}", ep.path))
        if key in seen:
            problems.append((at, f"same method and path as {seen[key]}"))
        else:
            seen[key] = at
        problems += reference_problems(manifest, f"{at}.request", ep.request, "type")
        problems += reference_problems(manifest, f"{at}.response", ep.response, "type")
        request = manifest.types.get(ep.request) if ep.request is not None else None
        if request is not None and request.type != "object" and not request.one_of:
            problems.append((f"{at}.request", "a request type must be an object"))
        for qname in ep.query:
            if qname in ep.path_params:
                problems.append((f"{at}.query.{qname}", "clashes with a path parameter"))
    return problems


def _path_problems(at: str, path: str) -> list[tuple[str, str]]:
    problems = []
    if not path.startswith("/"):
        problems.append((at, "must start with '/'"))
    names = models.PATH_PARAM.findall(path)
    stripped = models.PATH_PARAM.sub("", path)
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
