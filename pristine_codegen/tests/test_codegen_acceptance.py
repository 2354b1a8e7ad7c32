"""Acceptance: generate a package from a manifest with every type and endpoint kind, import it,
call it against a loopback server, and type-check user scripts with ``mypy --strict``."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from pristine_plugins.futures import APIFuture
from pristine_plugins.streaming import Stream
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply

from .conftest import REPO

PACKAGE = "petshop_sdk"


def _handler(request: SeenRequest) -> Reply:
    path = request.path.split("?")[0]
    if request.method == "POST" and path == "/pets":
        body = request.json()
        return json_reply(
            {"id": "p1", "pet": {"kind": body["species"], "name": body["name"]}, "tags": body.get("tags")}
        )
    if request.method == "GET" and path == "/pets/p1":
        return json_reply({"id": "p1", "pet": {"kind": "dog", "name": "Rex", "good": True}, "note": None})
    if request.method == "GET" and path == "/pets":
        return json_reply({"items": [{"id": "p1", "pet": {"kind": "cat", "name": "Tom"}}], "next": None})
    if request.method == "DELETE":
        return Reply(204)
    if path.endswith("/adopt"):
        return json_reply({"request_id": "r1"})
    if path == "/retrieve":
        return json_reply({"pet_id": "p1", "adopted": True})
    if path.endswith("/chat"):
        prompt = request.json()["prompt"]
        events = b"".join(b"data: " + json.dumps({"text": word}).encode() + b"\n\n" for word in prompt.split())
        return Reply(200, events, {"Content-Type": "text/event-stream"})
    return json_reply({"detail": "not found"}, 404)


def test_generated_package_calls_a_loopback_server(generated: Callable[[str], Path]) -> None:
    generated(PACKAGE)
    sdk: Any = importlib.import_module(PACKAGE)
    types: Any = importlib.import_module(PACKAGE + ".types")
    with LoopbackServer(_handler) as server:
        with sdk.PetshopClient(base_url=server.url, api_key="k", plugins=["futures", "streaming"]) as client:
            record = client.pets.create(
                species="cat", name="Tom", tags=["a"], from_="shelter", owner=types.Owner(name="Ann")
            )
            assert isinstance(record, types.PetRecord)
            assert record.pet == types.Cat(name="Tom") and record.pet.lives == 9
            sent = server.requests[-1].json()
            assert sent == {"species": "cat", "name": "Tom", "tags": ["a"], "from": "shelter", "owner": {"name": "Ann"}}
            assert server.requests[-1].header("X-API-Key") == "k"

            dog = client.pets.get(pet_id="p1")
            assert isinstance(dog.pet, types.Dog) and dog.pet.good is True

            page = client.pets.list(species="cat")
            assert "limit=10" in server.requests[-1].path and "species=cat" in server.requests[-1].path
            assert isinstance(page, types.Page) and page.items[0].pet.name == "Tom"

            assert client.pets.delete(pet_id="p1") is None

            future = client.pets.adopt(pet_id="p1", owner={"name": "Ann"})
            assert isinstance(future, APIFuture)
            assert future.result(timeout=5) == types.AdoptResult(pet_id="p1", adopted=True)

            with client.pets.chat(pet_id="p1", prompt="hello there") as stream:
                assert isinstance(stream, Stream)
                assert [token.text for token in stream] == ["hello", "there"]
            assert client.runtime.meta.plugin("petshop_sdk.types") is not None
        assert client.closed


def test_bad_arguments_fail_before_the_network(generated: Callable[[str], Path]) -> None:
    import pytest

    from pristine_core.errors import ValidationError

    generated(PACKAGE)
    sdk: Any = importlib.import_module(PACKAGE)
    with LoopbackServer(_handler) as server:
        with sdk.PetshopClient(base_url=server.url, plugins=["futures", "streaming"]) as client:
            with pytest.raises(ValidationError) as info:
                client.pets.create(species="bird", name="Tweety")
            assert "species" in str(info.value)
            with pytest.raises(TypeError):
                client.pets.create(species="cat", nme="Tom")
        assert server.requests == []


def test_types_are_frozen_slotted_attrs_classes_with_docstrings(generated: Callable[[str], Path]) -> None:
    generated(PACKAGE)
    types: Any = importlib.import_module(PACKAGE + ".types")
    cat = types.Cat(name="Tom")
    assert attrs.has(types.Cat) and "__slots__" in vars(types.Cat)
    try:
        cat.name = "Jerry"
    except attrs.exceptions.FrozenInstanceError:
        pass
    else:  # pragma: no cover - the assertion below reports it
        raise AssertionError("generated classes must be frozen")
    assert types.Cat.__doc__ == "A cat."
    assert types.Pet == types.Cat | types.Dog
    assert set(types.TYPE_CLASSES) == {
        "Cat", "Dog", "Owner", "NewPet", "PetRecord", "Page", "AdoptRequest", "AdoptResult", "ChatRequest",
        "Token", "RetrieveRequest",
    }  # fmt: skip


GOOD = """
    from petshop_sdk import PetshopClient
    from petshop_sdk.types import AdoptResult, Cat, Owner, PetRecord

    def run(client: PetshopClient) -> str:
        record: PetRecord = client.pets.create(species="dog", name="Rex", level=2, owner=Owner(name="Ann"))
        if isinstance(record.pet, Cat):
            lives: int = record.pet.lives
        result: AdoptResult = client.pets.adopt(pet_id=record.id, owner=Owner(name="Ann")).result()
        words = [token.text for token in client.pets.chat(pet_id=record.id, prompt="hi")]
        page = client.pets.list(limit=5)
        return record.id + str(result.adopted) + "".join(words) + str(len(page.items))
"""

BAD = {
    "bad_name.py": (
        """
        from petshop_sdk import PetshopClient

        def run(client: PetshopClient) -> None:
            client.pets.create(species="dog", nme="Rex")
        """,
        'Unexpected keyword argument "nme"',
    ),
    "bad_type.py": (
        """
        from petshop_sdk import PetshopClient

        def run(client: PetshopClient) -> None:
            client.pets.create(species="bird", name="Rex")
        """,
        'Argument "species" to "create" of "PetsResource" has incompatible type',
    ),
    "bad_result.py": (
        """
        from petshop_sdk import PetshopClient
        from petshop_sdk.types import Owner

        def run(client: PetshopClient) -> int:
            return client.pets.adopt(pet_id="p1", owner=Owner(name="Ann")).result().pet_id
        """,
        'Incompatible return value type (got "str", expected "int")',
    ),
}


def test_mypy_strict_reports_misuse_and_passes_correct_code(generated: Callable[[str], Path], tmp_path: Path) -> None:
    out = generated(PACKAGE)
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "good.py").write_text(textwrap.dedent(GOOD))
    for name, (source, _expected) in BAD.items():
        (scripts / name).write_text(textwrap.dedent(source))
    # Editable installs are invisible to mypy: point it at the sources. The libraries' own
    # findings are not the user's concern (as for any installed package).
    config = tmp_path / "mypy.ini"
    libraries = "pristine_runtime.*,pristine_core.*,pristine_plugins.*"
    config.write_text(f"[mypy]\nstrict = True\n[mypy-{libraries}]\nignore_errors = True\n")
    env = {**os.environ, "MYPYPATH": os.pathsep.join([str(out), str(REPO)])}
    command = [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(tmp_path / "cache")]
    result = subprocess.run(
        [*command, str(out / PACKAGE), *(str(p) for p in sorted(scripts.glob("*.py")))],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    report = result.stdout
    lines = [line for line in report.splitlines() if ": error:" in line]
    assert not [line for line in lines if "good.py" in line or PACKAGE in line], report
    for name, (_source, expected) in BAD.items():
        mine = [line for line in lines if line.startswith(str(scripts / name)) or f"/{name}:" in line]
        assert len(mine) == 1 and expected in mine[0], (name, report)
    assert result.returncode == 1
    assert len(lines) == len(BAD)
