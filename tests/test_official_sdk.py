"""The official ``tinker==0.38.0`` SDK, unmodified, against the in-process emulator (127.0.0.1).

Covers session set-up and close, training (every emulator loss, pipelined with optim_step, raw
and zstd protobuf bodies), save/load, sampling from every source, logprobs, the RestClient,
the ``tinker`` CLI, JWT exchange, the batched retrieve_futures poller, and that 20 official-SDK
steps lower the loss exactly as Tinkex does on the same data. The official SDK needs Python >= 3.11.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import requests

from tinkex_domain.emulator import Emulator, EmulatorConfig
from tinkex_domain.emulator.client_flags import ClientFlags

if sys.version_info < (3, 11):  # pragma: no cover - depends on the interpreter
    pytest.skip("the official tinker SDK (0.38.0) requires Python >= 3.11", allow_module_level=True)

tinker = pytest.importorskip("tinker", reason="the official tinker SDK is not installed")
from tinker import types  # noqa: E402

API_KEY = "tml-official-sdk-test"
BASE = "tinkex/tiny-byte-lm"
LOSSES = {  # every loss the emulator implements, with the inputs it requires
    "cross_entropy": {},
    "importance_sampling": {"logprobs": [-1.0] * 4, "advantages": [0.5] * 4},
    "ppo": {"logprobs": [-1.0] * 4, "advantages": [0.5] * 4},
    "cispo": {"logprobs": [-1.0] * 4, "advantages": [0.5] * 4},
    "dro": {"logprobs": [-1.0] * 4, "advantages": [0.5] * 4},
}


#: While these tests run: nothing may reach a model hub (the SDK depends on transformers), and
#: the SDK's telemetry stays off (it would only add background requests).
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TINKER_TELEMETRY": "0"}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """One emulator for the module; tests set the client flags they need before connecting."""
    saved = {name: os.environ.get(name) for name in OFFLINE_ENV}
    os.environ.update(OFFLINE_ENV)
    try:
        with Emulator(EmulatorConfig(long_poll_s=0.5)) as emulator:
            yield emulator
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def flags(emu: Emulator) -> Iterator[Any]:
    """``flags(**changes)`` sets the emulator's client/config flags; restored afterwards."""
    before = emu.client_flags

    def set_flags(**changes: Any) -> None:
        emu.set_client_flags(ClientFlags(**changes))

    yield set_flags
    emu.set_client_flags(before)


@pytest.fixture
def service(emu: Emulator, flags: Any) -> Iterator[Any]:
    client = tinker.ServiceClient(base_url=emu.base_url, api_key=API_KEY)
    yield client
    client.close("success").result()


def datum(tokens: list[int], **extra: list[float]) -> Any:
    inputs: dict[str, Any] = {"target_tokens": [t + 1 for t in tokens], "weights": [1.0] * len(tokens)}
    inputs.update(extra)
    return types.Datum(model_input=types.ModelInput.from_ints(tokens), loss_fn_inputs=inputs)


def count(emu: Emulator, endpoint: str) -> int:
    stats = emu.stats().get(endpoint)
    return stats.count if stats is not None else 0


def test_session_setup_info_and_close(emu: Emulator) -> None:
    service = tinker.ServiceClient(base_url=emu.base_url, api_key=API_KEY, user_metadata={"flow": "t"})
    caps = tinker.RestClient(base_url=emu.base_url, api_key=API_KEY).get_server_capabilities().result()
    assert BASE in [m.model_name for m in caps.supported_models]
    training = service.create_lora_training_client(base_model=BASE, rank=4, seed=1).result()
    info = training.get_info()
    assert info.model_id == training.model_id and info.model_data.model_name == BASE
    session_id = training.model_id.split(":train:")[0]
    assert emu.session_finish(session_id) is None
    service.close("interrupted", detail="stopped by the test").result()
    assert emu.session_finish(session_id) == {"type": "interrupted", "detail": "stopped by the test"}
    assert count(emu, "client_config") >= 1 and count(emu, "dynamic_config") >= 1


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "zstd"])
def test_every_loss_pipelined_with_optim_step(emu: Emulator, flags: Any, compress: bool) -> None:
    flags(proto_compress_fwdbwd=compress)
    before = emu.protobuf_bodies()
    service = tinker.ServiceClient(base_url=emu.base_url, api_key=API_KEY)
    try:
        training = service.create_lora_training_client(base_model=BASE, rank=4, seed=2).result()
        pending = []
        for loss, extra in LOSSES.items():
            data = [datum([1, 2, 3, 4], **extra), datum([5, 6, 7, 8], **extra)]
            pending.append((loss, training.forward_backward(data, loss),
                            training.optim_step(types.AdamParams(learning_rate=1e-3))))
        forward = training.forward([datum([9, 10, 11, 12])], "cross_entropy")
        for loss, fwd_bwd, optim in pending:
            out = fwd_bwd.result()
            assert len(out.loss_fn_outputs) == 2, loss
            assert out.loss_fn_outputs[0]["logprobs"].shape == [4]
            assert np.isfinite(out.metrics["loss:sum"]), loss
            assert "grad_norm:mean" in optim.result().metrics
        assert len(forward.result().loss_fn_outputs[0]["logprobs"].data) == 4
    finally:
        service.close("success").result()
    after = emu.protobuf_bodies()
    kind = "zstd" if compress else "identity"
    assert after.get(kind, 0) - before.get(kind, 0) == len(LOSSES) + 1
    applied = emu.applied_seq_ids(training.model_id)
    assert applied == list(range(1, 2 * len(LOSSES) + 2))


def test_parallel_chunks_are_applied_in_seq_id_order(emu: Emulator, flags: Any) -> None:
    """With fwdbwd_max_chunk_len=2 the SDK splits 5 datums into 3 requests sent concurrently
    (the first chunk last); the emulator applies them in seq_id order and the SDK merges them."""
    flags(fwdbwd_max_chunk_len=2, parallel_fwdbwd_chunks=True)
    service = tinker.ServiceClient(base_url=emu.base_url, api_key=API_KEY)
    try:
        training = service.create_lora_training_client(base_model=BASE, rank=2, seed=6).result()
        data = [datum([i + 1, i + 2, i + 3, i + 4]) for i in range(5)]
        out = training.forward_backward(data, "cross_entropy").result()
        training.optim_step(types.AdamParams(learning_rate=1e-3)).result()
    finally:
        service.close("success").result()
    assert len(out.loss_fn_outputs) == 5
    assert emu.applied_seq_ids(training.model_id) == [1, 2, 3, 4]


def test_unparseable_payload_keeps_its_seq_id(emu: Emulator) -> None:
    """A protobuf body with a bad payload is answered 400 but still takes its seq_id, so the
    next operation runs at once instead of waiting for the gap timeout."""
    from tinkex_domain.emulator.proto_wire import codec

    service = tinker.ServiceClient(base_url=emu.base_url, api_key=API_KEY)
    try:
        model_id = service.create_lora_training_client(base_model=BASE, rank=2).result().model_id
    finally:
        service.close("success").result()
    headers = {"X-API-Key": API_KEY, "Content-Type": "application/x-protobuf"}
    url = f"{emu.base_url}/api/v1/forward_backward"

    def body(seq_id: int, token: int) -> bytes:
        return codec().encode("ForwardBackwardRequest", {
            "model_id": model_id, "seq_id": seq_id, "loss_fn": "cross_entropy",
            "data": [{"model_input": [{"encoded_text": {"tokens": [token, 2]}}],
                      "loss_fn_inputs": {"target_tokens": {"dense": np.array([2, 3], "<i8").tobytes(),
                                                           "dtype": "DTYPE_INT64", "shape": [2]}}}]})

    bad = requests.post(url, data=body(1, 10**6), headers=headers, timeout=10)
    assert bad.status_code == 400 and "model_input.tokens[0]" in bad.json()["error"]
    truncated = requests.post(url, data=body(2, 1)[:-3], headers=headers, timeout=10)
    assert truncated.status_code == 400 and "ForwardBackwardRequest" in truncated.json()["error"]
    good = requests.post(url, data=body(3, 1), headers=headers, timeout=10)
    assert good.status_code == 200
    result = requests.post(f"{emu.base_url}/api/v1/retrieve_future", timeout=10,
                           json={"request_id": good.json()["request_id"]}, headers={"X-API-Key": API_KEY})
    assert "loss_fn_outputs" in result.json()
    assert emu.applied_seq_ids(model_id) == [3]


def test_rejected_fwd_bwd_does_not_stall_the_next_step(emu: Emulator, service: Any) -> None:
    """The official SDK's protobuf fwd/bwd that the emulator rejects (token outside the
    vocabulary) fails on its own; the optim_step behind it runs at once, not after the
    gap timeout."""
    training = service.create_lora_training_client(base_model=BASE, rank=2, seed=8).result()
    bad = types.Datum(model_input=types.ModelInput.from_ints([1, 10**6]),
                      loss_fn_inputs={"target_tokens": [2, 3], "weights": [1.0, 1.0]})
    start = time.monotonic()
    with pytest.raises(Exception, match=r"vocabulary"):
        training.forward_backward([bad], "cross_entropy").result()
    assert "grad_norm:mean" in training.optim_step(types.AdamParams(learning_rate=1e-3)).result().metrics
    assert time.monotonic() - start < 10
    assert emu.applied_seq_ids(training.model_id) == [2]


def test_forward_backward_custom(service: Any) -> None:
    pytest.importorskip("torch", reason="the official SDK computes custom losses with torch")
    training = service.create_lora_training_client(base_model=BASE, rank=2).result()

    def loss_fn(data: Any, logprobs: list[Any]) -> Any:
        total = sum(-lp.sum() for lp in logprobs)
        return total, {"custom:sum": float(total)}

    out = training.forward_backward_custom([datum([1, 2, 3])], loss_fn).result()
    assert out.metrics


def test_save_load_state_and_training_client_from_state(emu: Emulator, service: Any) -> None:
    training = service.create_lora_training_client(base_model=BASE, rank=4, seed=3).result()
    training.forward_backward([datum([1, 2, 3, 4])], "cross_entropy")
    training.optim_step(types.AdamParams(learning_rate=1e-2)).result()
    path = training.save_state("ckpt-a").result().path
    assert path == f"tinker://{training.model_id}/weights/ckpt-a"
    saved = emu.model_state(training.model_id)
    training.forward_backward([datum([5, 6, 7, 8])], "cross_entropy")
    training.optim_step(types.AdamParams(learning_rate=1e-2)).result()
    with pytest.warns(FutureWarning, match="load_state"):  # deprecated in 0.38, still served
        training.load_state_with_optimizer(path).result()
    assert all(np.array_equal(v, emu.model_state(training.model_id)[k]) for k, v in saved.items())
    restored = service.create_training_client_from_state_with_optimizer(path).result()
    assert restored.model_id != training.model_id
    assert all(np.array_equal(v, emu.model_state(restored.model_id)[k]) for k, v in saved.items())
    weights_only = service.create_training_client_from_state(path).result()
    state = emu.model_state(weights_only.model_id, with_optimizer=False)
    assert all(np.array_equal(v, saved[k]) for k, v in state.items())


def test_sampling_clients_from_every_source(emu: Emulator, service: Any) -> None:
    training = service.create_lora_training_client(base_model=BASE, rank=4, seed=4).result()
    sampler_path = training.save_weights_for_sampler("s-1").result().path
    assert sampler_path == f"tinker://{training.model_id}/sampler_weights/s-1"
    clients = {
        "base_model": service.create_sampling_client(base_model=BASE).result(),
        "model_path": service.create_sampling_client(model_path=sampler_path).result(),
        "training.create_sampling_client": training.create_sampling_client(sampler_path).result(),
        "save_weights_and_get_sampling_client": training.save_weights_and_get_sampling_client().result(),
    }
    clients["from_sampler_handle"] = tinker.SamplingClient.from_sampler_handle(
        clients["model_path"].get_sampler_handle(), api_key=API_KEY)
    prompt = types.ModelInput.from_ints([1, 2, 3])
    params = types.SamplingParams(max_tokens=5, temperature=1.0, seed=7)
    try:
        for source, client in clients.items():
            out = client.sample(prompt, num_samples=2, sampling_params=params).result()
            assert len(out.sequences) == 2, source
            assert all(len(s.tokens) == 5 and s.stop_reason == "length" for s in out.sequences), source
            assert all(s.sequence_id and s.sequence_id.endswith(f":seq:{i}")
                       for i, s in enumerate(out.sequences)), source
    finally:
        # A client rebuilt from a handle runs its own (shadow) session holder, which the owning
        # ServiceClient's close does not stop; stop its heartbeats here.
        clients["from_sampler_handle"].holder.close()


def test_sample_logprob_options_and_compute_logprobs(service: Any) -> None:
    client = service.create_sampling_client(base_model=BASE).result()
    prompt = types.ModelInput.from_ints([4, 5, 6, 7])
    out = client.sample(prompt, 1, types.SamplingParams(max_tokens=3, seed=1),
                        include_prompt_logprobs=True, topk_prompt_logprobs=2).result()
    assert out.prompt_logprobs is not None and out.prompt_logprobs[0] is None
    assert len(out.prompt_logprobs) == 4 and all(x < 0 for x in out.prompt_logprobs[1:])
    assert out.sequences[0].logprobs is not None and len(out.sequences[0].logprobs) == 3
    topk = out.topk_prompt_logprobs
    assert topk is not None and len(topk) == 4 and all(len(row) == 2 for row in topk[1:])
    assert topk[0] is None  # the emulator pads TopkLogprobs rows the way the SDK reads them
    logprobs = client.compute_logprobs(prompt).result()
    assert logprobs[0] is None and logprobs[1:] == pytest.approx(out.prompt_logprobs[1:], abs=1e-5)


WAIT_S = 60.0

#: Python < 3.12's ``asyncio.wait_for`` hands back the inner awaitable's outcome when a cancel
#: arrives in the same loop iteration as that outcome, dropping the cancellation (3.12 rewrote
#: ``wait_for`` on ``asyncio.timeout``). pyqwest's httpx adapter reads every body chunk through
#: ``wait_for`` (``pyqwest/httpx/_transport.py``, ``AsyncIteratorByteStream.__aiter__``), so when
#: ``close()`` cancels the SDK's retrieve_futures poller (``SessionFuturesPoller._poll_loop``) just
#: as its last ack-only poll's body ends, the poller never sees the cancel: it idles on
#: ``_has_work.wait()`` and ``InternalClientHolder._async_cleanup``'s gather of poller tasks never
#: returns (about 1 close in 40 here). Nothing the server does can prevent it.
PYQWEST_CANCEL_RACE = sys.version_info < (3, 12)


def _bounded(future: Any, what: str, *, known_race: bool = False, wait_s: float = WAIT_S) -> Any:
    """Wait for an official-SDK future, but never hang the suite: a wait longer than ``wait_s``
    fails, or, for the SDK-side cancel race above (``known_race``), is an expected failure."""
    try:
        return future.result(timeout=wait_s)
    except TimeoutError:
        if known_race:
            pytest.xfail(f"official SDK {what} lost the poller's cancel (pyqwest + Python < 3.12 "
                         "asyncio.wait_for; see PYQWEST_CANCEL_RACE)")
        pytest.fail(f"official SDK {what} did not finish in {wait_s:g} s")


@pytest.mark.parametrize("pyqwest", [False, True], ids=["httpx", "pyqwest"])
def test_batched_retrieve_futures_and_jwt(emu: Emulator, flags: Any, pyqwest: bool) -> None:
    """Samples resolved through the batched retrieve_futures poller with JWT auth, then close.
    ``use_pyqwest_transport`` picks the SDK's transport: httpx's own (close is plain), or pyqwest,
    whose close can hang on Python < 3.12 (see PYQWEST_CANCEL_RACE)."""
    flags(sample_use_retrieve_futures=True, pjwt_auth_enabled=True, use_pyqwest_transport=pyqwest)
    polls, tokens = count(emu, "retrieve_futures"), count(emu, "auth_token")
    service = tinker.ServiceClient(base_url=emu.base_url, api_key=API_KEY)
    try:
        client = service.create_sampling_client(base_model=BASE).result(timeout=WAIT_S)
        futures = [client.sample(types.ModelInput.from_ints([1, 2, i]), 1,
                                 types.SamplingParams(max_tokens=2, seed=i)) for i in range(8)]
        assert all(len(_bounded(f, "sample via retrieve_futures").sequences) == 1 for f in futures)
    finally:
        # A close takes milliseconds; 15 s is ample even on a loaded machine.
        _bounded(service.close("success"), "close", known_race=pyqwest and PYQWEST_CANCEL_RACE, wait_s=15.0)
    assert count(emu, "retrieve_futures") > polls
    assert count(emu, "auth_token") > tokens
    # RestClients share one process-wide holder per (URL, key), made with the flags of its time:
    # a key of its own gets a holder that has seen pjwt_auth_enabled.
    who = tinker.RestClient(base_url=emu.base_url, api_key=f"{API_KEY}-jwt-{pyqwest}").whoami().result()
    assert who.user_urn.startswith("urn:tinker:user:") and who.org_urn == "tml:organization:emulator"


def test_rest_client(emu: Emulator, service: Any) -> None:
    training = service.create_lora_training_client(base_model=BASE, rank=4, user_metadata={"k": "v"}).result()
    path = training.save_state("rest-1").result().path
    sampler = training.save_weights_and_get_sampling_client().result()
    rest = tinker.RestClient(base_url=emu.base_url, api_key=API_KEY)
    run = rest.get_training_run(training.model_id).result()
    assert run.training_run_id == training.model_id and run.base_model == BASE
    assert rest.get_training_run_by_tinker_path(path).result().training_run_id == training.model_id
    runs = rest.list_training_runs(limit=50).result()
    assert training.model_id in [r.training_run_id for r in runs.training_runs]
    checkpoints = rest.list_checkpoints(training.model_id).result().checkpoints
    assert [c.tinker_path for c in checkpoints] == [path]
    assert path in [c.tinker_path for c in rest.list_user_checkpoints(limit=100).result().checkpoints]
    info = rest.get_weights_info_by_tinker_path(path).result()
    assert info.base_model == BASE and info.lora_rank == 4
    session_id = training.model_id.split(":train:")[0]
    assert training.model_id in rest.get_session(session_id).result().training_run_ids
    assert session_id in rest.list_sessions(limit=100).result().sessions
    sampler_id = rest.get_session(session_id).result().sampler_ids[0]
    assert rest.get_sampler(sampler_id).result().base_model == BASE
    assert sampler.get_base_model() == BASE
    rest.publish_checkpoint_from_tinker_path(path).result()
    assert rest.list_checkpoints(training.model_id).result().checkpoints[0].public
    rest.unpublish_checkpoint_from_tinker_path(path).result()
    rest.set_checkpoint_ttl_from_tinker_path(path, 3600).result()
    rest.delete_checkpoint_from_tinker_path(path).result()
    assert rest.list_checkpoints(training.model_id).result().checkpoints == []


#: Runs several ``tinker`` CLI commands in one child process (the CLI is a process of its own; in
#: this one its session-less client cache, keyed by the unresolved base URL, would outlive the
#: emulator). Prints one JSON list of [exit code, output] per command.
CLI_DRIVER = """
import json, sys
from click.testing import CliRunner
from tinker.cli.__main__ import main_cli
runner = CliRunner()
out = []
for args in json.loads(sys.argv[1]):
    result = runner.invoke(main_cli, ["-f", "json", *args])
    out.append([result.exit_code, result.output + (repr(result.exception) if result.exception else "")])
print(json.dumps(out))
"""


def test_cli_list_info_and_download(emu: Emulator, service: Any, tmp_path: Any) -> None:
    import json
    import subprocess

    training = service.create_lora_training_client(base_model=BASE, rank=2).result()
    path = training.save_state("cli-1").result().path
    commands = [
        ["run", "list", "--limit", "100"],
        ["run", "info", training.model_id],
        ["checkpoint", "list"],
        ["checkpoint", "list", "--run-id", training.model_id],
        ["checkpoint", "info", path],
        ["model", "list"],
        ["checkpoint", "download", path, "--output", str(tmp_path)],
    ]
    env = {**os.environ, **OFFLINE_ENV, "TINKER_BASE_URL": emu.base_url, "TINKER_API_KEY": API_KEY}
    done = subprocess.run([sys.executable, "-c", CLI_DRIVER, json.dumps(commands)], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for args, (code, output) in zip(commands, results, strict=True):
        assert code == 0, (args, output)
    outputs = [output for _, output in results]
    assert training.model_id in outputs[0]
    assert BASE in outputs[1]
    assert path in outputs[2] and path in outputs[3]
    assert "cli-1" in outputs[4]
    assert BASE in outputs[5]
    target = tmp_path / path.replace("tinker://", "").replace("/", "_")
    files = sorted(p.name for p in target.iterdir())
    assert files and all((target / name).stat().st_size > 0 for name in files), files


def _losses_official(emu: Emulator, data: list[list[int]], steps: int) -> list[float]:
    service = tinker.ServiceClient(base_url=emu.base_url, api_key=API_KEY)
    try:
        training = service.create_lora_training_client(base_model=BASE, rank=4, seed=11).result()
        batch = [datum(tokens) for tokens in data]
        losses = []
        for _ in range(steps):
            fwd = training.forward_backward(batch, "cross_entropy")
            training.optim_step(types.AdamParams(learning_rate=5e-3))
            losses.append(fwd.result().metrics["loss:sum"])
        return losses
    finally:
        service.close("success").result()


def _losses_tinkex(emu: Emulator, data: list[list[int]], steps: int) -> list[float]:
    from tinkex_domain import ServiceClient
    from tinkex_domain import types as tx

    with ServiceClient(api_key=API_KEY, base_url=emu.base_url, config={"telemetry": False}) as service:
        training = service.create_lora_training_client(BASE, rank=4, seed=11)
        batch = [tx.Datum(model_input=tx.ModelInput.from_ints(t),
                          loss_fn_inputs={"target_tokens": [x + 1 for x in t], "weights": [1.0] * len(t)})
                 for t in data]
        losses = []
        for _ in range(steps):
            fwd = training.forward_backward(batch, "cross_entropy")
            training.optim_step(tx.AdamParams(learning_rate=5e-3))
            losses.append(fwd.result().metrics["loss:sum"])
        return losses


def test_loss_falls_exactly_as_with_tinkex(emu: Emulator) -> None:
    data = [[(7 * i + j) % 200 + 1 for j in range(12)] for i in range(4)]
    official = _losses_official(emu, data, 20)
    tinkex = _losses_tinkex(emu, data, 20)
    assert official == tinkex
    assert official[-1] < 0.5 * official[0]
