"""The pytest plugins (``pytest11`` entry points) as a user sees them: test files that import no
project internals, run by pytest in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

USER_TINKEX_TEST = '''
import tinkex
from tinkex import types


def _datum(text):
    tokens = list(text.encode())
    return types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={"target_tokens": tokens[1:]},
    )


def test_emulator_handle(tinkex_emulator):
    assert tinkex_emulator.url.startswith("http://127.0.0.1:")
    assert tinkex_emulator.api_key.startswith("tml-")


def test_training_step_lowers_the_loss(tinkex_service):
    training = tinkex_service.create_lora_training_client(base_model="tinkex/tiny-byte-lm", rank=4)
    batch = [_datum("the river bends past the old mill")]
    first = training.forward_backward(batch, "cross_entropy").result()
    training.optim_step(types.AdamParams(learning_rate=0.05)).result()
    training.forward_backward(batch, "cross_entropy").result()
    training.optim_step(types.AdamParams(learning_rate=0.05)).result()
    last = training.forward_backward(batch, "cross_entropy").result()
    assert last.metrics["loss:sum"] < first.metrics["loss:sum"]


def test_training_survives_injected_faults(tinkex_emulator, tinkex_service):
    tinkex_emulator.inject_faults("seed=3;forward_backward:server_error=0.5,status=503")
    training = tinkex_service.create_lora_training_client(base_model="tinkex/tiny-byte-lm", rank=4)
    for _ in range(3):
        training.forward_backward([_datum("a stitch in time")], "cross_entropy").result()
    stats = tinkex_emulator.emulator.stats()
    assert sum(stats["forward_backward"].faults.values()) > 0


def test_shared_emulator(tinkex_emulator_session, tinkex_service_session):
    assert tinkex_service_session.get_server_capabilities().supported_models
    assert tinkex_emulator_session.url.startswith("http://127.0.0.1:")


def test_public_name():
    assert tinkex.__version__
'''

USER_MOCK_TEST = '''
import pytest
import requests

import pristine_core

MANIFEST = {
    "name": "petstore",
    "base_url": "http://pets.test/v1",
    "resources": {
        "pets": {
            "get": {"method": "GET", "path": "/pets/{pet_id}", "response": "Pet"},
            "create": {"method": "POST", "path": "/pets", "request": "NewPet", "response": "Pet"},
        }
    },
    "types": {
        "Pet": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                "required": ["id", "name"]},
        "NewPet": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
    },
}


def test_declared_endpoints(pristine_mock, client_factory):
    api = pristine_mock(MANIFEST)
    api.reply("pets.create", {"id": "p1", "name": "Rex"}, status=201)
    api.reply("pets.get", {"id": "p1", "name": "Rex"})
    client = client_factory(MANIFEST)
    assert client.pets.create(name="Rex").id == "p1"
    assert client.pets.get(pet_id="p1").name == "Rex"
    assert [c.endpoint for c in api.calls] == ["pets.create", "pets.get"]
    assert api.calls_to("pets.get")[0].path_params == {"pet_id": "p1"}


def test_unknown_reply_name_is_refused(pristine_mock):
    api = pristine_mock(MANIFEST)
    with pytest.raises(KeyError, match="pets.delete"):
        api.reply("pets.delete", {})


def test_body_checked_against_the_manifest(pristine_mock):
    api = pristine_mock(MANIFEST)
    api.reply("pets.create", {"id": "p1", "name": "Rex"})
    with pytest.raises(AssertionError, match="does not match type 'NewPet'"):
        requests.post("http://pets.test/v1/pets", json={"name": 3})
    api.problems.clear()  # handled here: the fixture would fail the test at teardown otherwise


def test_calls_an_undeclared_endpoint(pristine_mock):
    pristine_mock(MANIFEST)
    requests.delete("http://pets.test/v1/pets/p1")
'''


def _pytest(tmp_path: Path, name: str, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / name).write_text(textwrap.dedent(source))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", name],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env,
    )


def test_user_tests_run_against_the_emulator_fixtures(tmp_path: Path) -> None:
    """tinkex_emulator / tinkex_service (and the session-scoped pair) work in a user's test file."""
    result = _pytest(tmp_path, "test_user_training.py", USER_TINKEX_TEST)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


def test_pristine_mock_fails_cleanly_on_an_undeclared_endpoint(tmp_path: Path) -> None:
    """Declared endpoints answer; the undeclared one fails its test with a message naming it."""
    result = _pytest(tmp_path, "test_user_mock.py", USER_MOCK_TEST)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "1 failed, 3 passed" in out
    assert "FAILED test_user_mock.py::test_calls_an_undeclared_endpoint" in out
    assert "DELETE /pets/p1 matches no endpoint declared in manifest 'petstore'" in out
    assert "GET /pets/{pet_id}" in out  # the message lists what is declared
