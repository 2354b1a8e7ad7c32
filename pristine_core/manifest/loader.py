"""Load a manifest from a path, a dict or a package resource, and validate all of it.

Validation runs in two passes and reports every problem of a pass at once, each with its JSON
path: the structural pass (cattrs, unknown keys forbidden) and, when that succeeds, the semantic
pass (:mod:`pristine_core.manifest.checks`: references, path parameters, duplicates).

Sections and endpoint keys that plugins declared (``pristine_settings``) are structured with
their classes (:mod:`pristine_core.manifest.claims`); keys nobody declared are kept aside as
``Manifest.unclaimed`` (an error with ``strict=True``, or when they look like a typo).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

import attrs

from pristine_core.errors import ManifestError
from pristine_core.limits import MAX_MANIFEST_DEPTH, JSONDepthError, json_depth, loads_bounded
from pristine_core.manifest import models
from pristine_core.manifest._converter import CONVERTER, join, problems_from
from pristine_core.manifest.checks import semantic_problems
from pristine_core.manifest.claims import SettingsSchema

_NO_PLUGINS = SettingsSchema()

#: Extra validators (plugins' ``pristine_validate_manifest``): manifest -> problems.
FeatureValidator = Callable[[models.Manifest], Iterable[tuple[str, str]]]


class _DuplicateTracker(dict):  # type: ignore[type-arg]
    """A dict that remembers keys that appeared more than once in the JSON text."""

    duplicates: list[str]


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = _DuplicateTracker()
    out.duplicates = []
    for key, value in pairs:
        if key in out:
            out.duplicates.append(key)
        out[key] = value
    return out


def _duplicate_problems(node: Any, path: str = "") -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if isinstance(node, dict):
        problems += [(join(path, key), "duplicate key") for key in getattr(node, "duplicates", ())]
        for key, value in node.items():
            problems += _duplicate_problems(value, join(path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            problems += _duplicate_problems(value, join(path, index))
    return problems


DOCUMENT = "<document>"
_BOM = "starts with a byte-order mark; save the manifest as UTF-8 without BOM"


def parse_json(text: str | bytes, source: str = "manifest") -> dict[str, Any]:
    """Parse manifest JSON text (or UTF-8 bytes), reporting encoding problems, syntax errors,
    nesting deeper than ``MAX_MANIFEST_DEPTH`` and duplicate keys as a ManifestError."""
    if isinstance(text, bytes):
        if text.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 (a UTF-8 one is caught below)
            raise ManifestError([(DOCUMENT, _BOM)], source)
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ManifestError([(DOCUMENT, f"not valid UTF-8 at byte {exc.start}: {exc.reason}")], source) from None
    if text.startswith("\ufeff"):
        raise ManifestError([(DOCUMENT, _BOM)], source)
    try:
        data = loads_bounded(text, MAX_MANIFEST_DEPTH, object_pairs_hook=_pairs_hook)
    except JSONDepthError:
        raise ManifestError([(DOCUMENT, f"nested deeper than {MAX_MANIFEST_DEPTH} levels")], source) from None
    except json.JSONDecodeError as exc:
        raise ManifestError(
            [("$", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")], source
        ) from None
    duplicates = _duplicate_problems(data)
    if duplicates:
        raise ManifestError(duplicates, source)
    if not isinstance(data, dict):
        raise ManifestError([("$", "the manifest must be a JSON object")], source)
    return dict(data)


def load_manifest(
    source: Any,
    *,
    validators: Iterable[FeatureValidator] = (),
    schema: SettingsSchema | None = None,
    strict: bool = False,
) -> models.Manifest:
    """Load and validate a manifest.

    ``source`` is a :class:`~pristine_core.manifest.models.Manifest`, a mapping, a filesystem
    path, or a ``(package, resource_name)`` tuple naming a file shipped in a package. ``schema``
    holds the plugins' declared settings (none by default); a loaded manifest is returned as is
    when it was built with the same schema, else structured again from its data. Raises
    :class:`~pristine_core.errors.ManifestError` listing every problem with its JSON path.
    """
    if isinstance(source, models.Manifest):
        if source.schema_key == (schema or _NO_PLUGINS).key and not strict:
            return source
        return build_manifest(source.data, name=source.name, validators=validators, schema=schema, strict=strict)
    if isinstance(source, Mapping):
        return build_manifest(source, validators=validators, schema=schema, strict=strict)
    name = "manifest"
    try:
        if isinstance(source, tuple) and len(source) == 2:
            package, resource = source
            name = f"{package}:{resource}"
            raw = importlib_resources.files(package).joinpath(resource).read_bytes()
        elif isinstance(source, (str, os.PathLike)):
            name = os.fspath(source)
            raw = Path(source).read_bytes()
        else:
            raise TypeError(f"cannot load a manifest from {type(source).__name__}")
    except (OSError, ModuleNotFoundError) as exc:
        raise ManifestError([("$", f"cannot read {name}: {getattr(exc, 'strerror', None) or exc}")], name) from None
    data = parse_json(raw, name)
    return build_manifest(data, name=name, validators=validators, schema=schema, strict=strict)


def build_manifest(
    data: Mapping[str, Any],
    *,
    name: str = "manifest",
    validators: Iterable[FeatureValidator] = (),
    schema: SettingsSchema | None = None,
    strict: bool = False,
) -> models.Manifest:
    """Validate already-parsed manifest data and build the model (see :func:`load_manifest`)."""
    if not isinstance(data, Mapping):
        raise ManifestError([(DOCUMENT, f"the manifest must be a JSON object, not {type(data).__name__}")], name)
    if json_depth(data) > MAX_MANIFEST_DEPTH:
        raise ManifestError([(DOCUMENT, f"nested deeper than {MAX_MANIFEST_DEPTH} levels")], name)
    schema = schema or _NO_PLUGINS
    split = schema.split(data)
    early = split.problems
    if strict:
        early += [(path, "no loaded plugin reads this key") for path in split.unclaimed]
    try:
        manifest = CONVERTER.structure(split.core, models.Manifest)
    except Exception as exc:
        raise ManifestError(problems_from(exc) + early, name) from None
    manifest = attrs.evolve(
        manifest, sections=split.sections, unclaimed=tuple(split.unclaimed), data=dict(data), schema_key=schema.key
    )
    problems = early + semantic_problems(manifest)
    # Plugin checks read structured sections: with structural problems some are missing.
    for validator in validators if not early else ():
        try:
            problems.extend(validator(manifest))
        except Exception as exc:
            problems.append(("features", f"validator {validator!r} failed: {exc}"))
    if problems:
        raise ManifestError(problems, name)
    return manifest
