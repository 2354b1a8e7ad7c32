"""Seeded random mutations of a valid manifest: loading raises only ManifestError, with paths."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from pristine_core import ManifestError, load_manifest

from .conftest import PETSTORE

JUNK: list[Any] = [
    None,
    0,
    -1,
    3.5,
    True,
    "",
    "x",
    "GET",
    "/p/{",
    [],
    [1, "a"],
    {},
    {"type": "object"},
    {"$ref": "Nope"},
]
TOP_KEYS = set(PETSTORE) | {"$", "retry_policies", "circuit_breakers", "features"}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _mutate(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    data = copy.deepcopy(data)
    path = rng.choice(_paths(data)[1:])
    parent: Any = data
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    action = rng.randrange(5)
    if action == 0 and isinstance(parent, dict):
        del parent[last]
    elif action == 1 and isinstance(parent, dict):
        parent[f"unknown_{rng.randrange(100)}"] = rng.choice(JUNK)
    elif action == 2 and isinstance(parent, dict):
        parent[str(rng.choice(JUNK))] = parent.pop(last)
    else:
        parent[last] = copy.deepcopy(rng.choice(JUNK))
    return data


@pytest.mark.parametrize("seed", range(int(__import__("os").environ.get("FUZZ_SEEDS", "4"))))
def test_random_mutations_raise_only_manifest_errors(seed: int) -> None:
    """250 mutations per seed (1,000 in all): only ManifestError, every problem with a path."""
    rng = random.Random(seed)
    rejected = 0
    for _ in range(250):
        mutated = _mutate(PETSTORE, rng)
        try:
            load_manifest(mutated)
        except ManifestError as exc:
            rejected += 1
            assert exc.problems
            for path, message in exc.problems:
                assert path and message
                assert (
                    path == "$"
                    or path.split(".")[0].split("[")[0] in TOP_KEYS
                    or path.startswith(tuple(f"{k}." for k in TOP_KEYS))
                ), path
    assert rejected > 100
