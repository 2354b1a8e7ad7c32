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


# ------------------------------------------------------------------ byte-level mutations (text)

BYTE_SEEDS = 5
BYTE_MUTATIONS_PER_SEED = 500  # 2,500 byte-level + 1,000 structural = 3,500 mutations in CI
INVALID_UTF8 = [b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"]
BOMS = [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]


def _byte_mutation(text: bytes, rng: random.Random) -> bytes:
    """One hostile change to the manifest's bytes: encoding, nesting, root, duplicates, noise."""
    action = rng.randrange(10)
    at = rng.randrange(len(text))
    if action == 0:  # invalid UTF-8 somewhere (inside strings too)
        return text[:at] + rng.choice(INVALID_UTF8) + text[at:]
    if action == 1:  # a byte-order mark
        return rng.choice(BOMS) + text
    if action == 2:  # deep nesting around a value or the whole document
        depth = rng.choice([70, 200, 1_000, 5_000, 100_000])
        if rng.random() < 0.5:
            return b"[" * depth + text + b"]" * depth
        key = b'"x_deep": ' + b"[" * depth + b"1" + b"]" * depth + b","
        return text[:1] + key + text[1:]
    if action == 3:  # a non-object root
        return rng.choice([b"[]", b"null", b"42", b'"manifest"', b"[" + text + b"]", b"true"])
    if action == 4:  # a duplicated top-level key
        return text[:1] + b'"name": "dup", ' + text[1:]
    if action == 5:  # truncation
        return text[:at]
    if action == 6:  # one random byte replaced
        return text[:at] + bytes([rng.randrange(256)]) + text[at + 1 :]
    if action == 7:  # random bytes inserted
        return text[:at] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8))) + text[at:]
    if action == 8:  # a byte deleted
        return text[:at] + text[at + 1 :]
    return text[:at] + b"\x00" + text[at:]  # NUL


@pytest.mark.parametrize("seed", range(BYTE_SEEDS))
def test_byte_level_mutations_raise_only_manifest_errors(seed: int, tmp_path: Any) -> None:
    """Loading mutated manifest *files* raises only ManifestError, each problem with a path."""
    import json

    text = json.dumps(PETSTORE, indent=1).encode("utf-8")
    rng = random.Random(1000 + seed)
    path = tmp_path / "manifest.json"
    rejected = 0
    for _ in range(BYTE_MUTATIONS_PER_SEED):
        path.write_bytes(_byte_mutation(text, rng))
        try:
            load_manifest(path)
        except ManifestError as exc:
            rejected += 1
            assert exc.problems and all(p and m for p, m in exc.problems)
    assert rejected > BYTE_MUTATIONS_PER_SEED // 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b'{"name": "\xff"}', "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        (b'{"a": ' + b"[" * 1_000 + b"]" * 1_000 + b"}", "nested deeper"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"name": "a", "name": "b"}', "duplicate key"),
    ],
)
def test_each_bad_document_kind_names_its_problem(data: bytes, message: str, tmp_path: Any) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(data)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert any(message in m for _, m in info.value.problems), info.value.problems
    assert all(p for p, _ in info.value.problems)


def test_deep_mapping_is_refused_without_recursion_error() -> None:
    deep: Any = 1
    for _ in range(5_000):
        deep = [deep]
    with pytest.raises(ManifestError, match="nested deeper"):
        load_manifest({**PETSTORE, "features": {"x": deep}})


@pytest.mark.parametrize(
    "data", [b'{"name": "\xff"}', b"\xef\xbb\xbf{}", b"[" * 5_000 + b"]" * 5_000], ids=["utf8", "bom", "deep"]
)
def test_cli_validate_reports_bad_documents_without_a_traceback(data: bytes, tmp_path: Any) -> None:
    import subprocess
    import sys

    path = tmp_path / "bad.json"
    path.write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-m", "pristine_cli", "manifest", "validate", "--no-plugins", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and f"{path}: <document>: " in proc.stdout
