"""The Tinker manifest: it loads, the plugins accept it, and every endpoint answers on the emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pristine_core import Client, load_manifest
from pristine_core.manifest import SettingsSchema
from pristine_core.plugins import PluginSelection, build_plugin_manager
from pristine_plugins.futures.settings import FuturesEndpoint
from pristine_plugins.retry.settings import RetryEndpoint
from tinkex_domain import ServiceClient, types
from tinkex_domain.emulator.app import all_routes
from tinkex_domain.plugin import TinkexPlugin

from .conftest import BASE_MODEL, text_datum

ROOT_MANIFEST = Path(__file__).resolve().parents[2] / "manifest.json"


def test_manifest_loads_from_file_and_package() -> None:
    pm, _records, _failures = build_plugin_manager(PluginSelection.resolve(plugins=["retry", "pool", "futures"]))
    schema = SettingsSchema.from_hooks(pm)
    from_file = load_manifest(ROOT_MANIFEST, schema=schema)
    from_package = load_manifest(("tinkex_domain", "manifest.json"), schema=schema)
    assert from_file == from_package
    assert from_file.auth is not None and from_file.auth.header == "X-API-Key"
    assert from_file.auth.key_prefixes == ("tml-",) and from_file.base_url_env == "TINKER_BASE_URL"
    pools = from_file.section("pools")
    assert set(pools) == {"session", "train", "sample", "futures", "telemetry"}
    sample = pools["sample"]
    assert sample.concurrency == 400 and sample.byte_budget == 10 * 1024 * 1024
    assert sample.backpressure is not None and sample.backpressure.reduced_concurrency == 10
    policies = from_file.section("retry_policies")
    default = policies["default"]
    assert (default.max_retries, default.base_delay_s, default.max_delay_s, default.jitter) == (10, 0.5, 10, 0.25)
    assert default.pause_statuses["402"].max_pause_s == 3600
    for name in ("session.session_heartbeat", "weights.save_weights"):
        policy = from_file.endpoint(name).settings_of(RetryEndpoint).retry
        assert policy is not None and policies[policy].max_retries == 0, name
    # Polling goes through the retry machinery: 429s and transport errors back off 1, 2, 4... s
    # (capped at 30 s) inside one poll; the reply table in features.futures decides the rest.
    poll = policies[from_file.endpoint("futures.retrieve_future").settings_of(RetryEndpoint).retry or "default"]
    assert (poll.base_delay_s, poll.max_delay_s, poll.jitter, poll.retry_statuses) == (1, 30, 0, (429,))
    # asample is retried under its idempotency key (issue 11: no lost samples).
    asample = from_file.endpoint("sampling.asample").settings_of(RetryEndpoint).retry
    assert policies[asample or "default"].max_retries == 10
    futures = [ep.settings_of(FuturesEndpoint) for ep in from_file.endpoints()]
    assert all(keys.result for keys in futures if keys.future)
    assert json.loads(ROOT_MANIFEST.read_text())["features"]["futures"]["poll_timeout_s"] == 45


def test_installed_plugins_accept_the_manifest(emulator: Any) -> None:
    with Client(ROOT_MANIFEST, base_url=emulator.base_url, api_key="tml-x", plugins=[TinkexPlugin()],
                disable_plugins=["tinkex", "session", "telemetry"]) as client:
        assert {"retry", "pool", "futures", "streaming"} <= {r.name for r in client.meta.plugins()}
        assert client.meta.types.cls("ModelInput") is types.ModelInput


def test_every_endpoint_answers_on_the_emulator(service: ServiceClient, emulator: Any) -> None:
    holder = service.holder
    session_id = holder.session_id
    tc = service.create_lora_training_client(BASE_MODEL, rank=2)
    state = tc.save_state("manifest-state").result(timeout=60).path
    spare = tc.save_weights_for_sampler("manifest-spare").result(timeout=60).path
    sampler = service.create_sampling_client(base_model=BASE_MODEL).sampling_session_id
    fresh = service.create_lora_training_client(BASE_MODEL, rank=2).model_id
    datum = text_datum("manifest")
    run, ckpt = tc.model_id, "weights/manifest-state"
    prompt = types.ModelInput.from_ints([104, 105])
    params = types.SamplingParams(max_tokens=2)
    fb_input = {"data": [datum], "loss_fn": "cross_entropy"}
    request_ids: list[str] = []

    def spare_session() -> str:  # finishing must not end the module's shared session
        return str(holder.client.meta.endpoint("session.create_session")(sdk_version="0.15.0").session_id)

    calls: dict[str, Callable[[], dict[str, Any]]] = {
        "session.create_session": lambda: {"sdk_version": "0.15.0"},
        "session.session_heartbeat": lambda: {"session_id": session_id},
        "service.get_server_capabilities": dict,
        "service.healthz": dict,
        "service.client_config": lambda: {"sdk_version": "tinkex"},
        "models.create_model": lambda: {"session_id": session_id, "model_seq_id": holder.next_counter("model_seq_id"),
                                        "base_model": BASE_MODEL, "lora_config": types.LoraConfig(rank=2)},
        "models.get_info": lambda: {"model_id": run},
        "training.forward": lambda: {"model_id": fresh, "seq_id": 1, "forward_input": fb_input},
        "training.forward_backward": lambda: {"model_id": fresh, "seq_id": 2, "forward_backward_input": fb_input},
        "training.optim_step": lambda: {"model_id": fresh, "seq_id": 3, "adam_params": types.AdamParams()},
        "weights.save_weights": lambda: {"model_id": fresh, "seq_id": 4, "path": "m"},
        "weights.save_weights_for_sampler": lambda: {"model_id": fresh, "seq_id": 5, "path": "m"},
        "weights.load_weights": lambda: {"model_id": fresh, "seq_id": 6, "path": state},
        "weights.save_weights_external": lambda: {"model_id": fresh, "seq_id": 7, "path": "ext"},
        "weights.weights_info": lambda: {"tinker_path": state},
        "models.unload_model": lambda: {"model_id": fresh},
        "sampling.create_sampling_session": lambda: {
            "session_id": session_id, "sampling_session_seq_id": holder.next_counter("sampling_session_seq_id"),
            "base_model": BASE_MODEL},
        "sampling.asample": lambda: {"sampling_session_id": sampler, "prompt": prompt, "sampling_params": params},
        "sampling.stream_sample": lambda: {"sampling_session_id": sampler, "prompt": prompt, "sampling_params": params},
        "sampling.get_sampler": lambda: {"sampler_id": sampler},
        "futures.retrieve_future": lambda: {"request_id": request_ids[0]},
        "telemetry.send_telemetry": lambda: {"events": [], "session_id": session_id},
        "rest.list_training_runs": dict,
        "rest.get_training_run": lambda: {"run_id": run},
        "rest.list_checkpoints": lambda: {"run_id": run},
        "rest.list_user_checkpoints": dict,
        "rest.publish_checkpoint": lambda: {"run_id": run, "checkpoint_id": ckpt},
        "rest.unpublish_checkpoint": lambda: {"run_id": run, "checkpoint_id": ckpt},
        "rest.set_checkpoint_ttl": lambda: {"run_id": run, "checkpoint_id": ckpt, "ttl_seconds": None},
        "rest.get_checkpoint_archive_url": lambda: {"run_id": run, "checkpoint_id": ckpt},
        "rest.delete_checkpoint": lambda: {"run_id": run, "checkpoint_id": "sampler_weights/manifest-spare"},
        "rest.list_sessions": dict,
        "rest.get_session": lambda: {"session_id": session_id},
        "weights.copy_weights": lambda: {"source_path": state, "destination_project_id": "proj-x"},
        "rest.get_external_weights_urls": lambda: {"run_id": run, "checkpoint_id": "external_weights/manifest-ext"},
        "rest.assign_session_project": lambda: {"session_id": session_id, "project_id": "proj-x"},
        "rest.export_session_trace": lambda: {"session_id": session_id},
        "rest.search_sessions": lambda: {"limit": 5},
        "rest.whoami": dict,
        "rest.get_billing_usage": lambda: {
            "starting_on": "2026-01-01T00:00:00Z", "ending_before": "2026-01-02T00:00:00Z"},
        "rest.get_audit_log": dict,
        "rest.get_current_checkpoint_storage_usage": dict,
        # The emulator's finish handler belongs to the protocol work (issue 12 item 2); until it
        # is served, the entry is checked only when the route exists (see below).
        "session.finish_session": lambda: {"session_id": spare_session(), "reason": {"type": "success"}},
    }
    assert spare is not None
    assert tc.save_weights_external("manifest-ext").result(timeout=60).path
    assert set(calls) == {ep.qualified_name for ep in holder.client.meta.manifest.endpoints()}
    served = {route.endpoint for route in all_routes()}
    if "finish_session" not in served:
        del calls["session.finish_session"]
    for name, args in calls.items():
        response = holder.client.meta.endpoint(name).raw(**args())
        try:
            assert 200 <= response.status_code < 400, f"{name}: {response.status_code} {response.text[:200]}"
            if name == "sampling.asample":
                request_ids.append(response.json()["request_id"])
        finally:
            response.close()


def test_byte_estimates_reach_the_request(service: ServiceClient) -> None:
    from pristine_core import RequestOptions
    from tinkex_domain.chunking import data_bytes

    client = service.holder.client
    asample = client.meta.endpoint("sampling.asample")
    prompt = types.ModelInput.from_ints(list(range(50)))
    call = asample.prepare(RequestOptions(), {"prompt": prompt, "sampling_params": types.SamplingParams()})
    assert asample.build_request(call).byte_size == 10 * 50

    forward = client.meta.endpoint("training.forward_backward")
    data = [text_datum("estimate me"), text_datum("and me")]
    body = {"model_id": "m", "seq_id": 1, "forward_backward_input": {"data": data, "loss_fn": "cross_entropy"}}
    call = forward.prepare(RequestOptions(), body)
    assert forward.build_request(call).byte_size == data_bytes(data)


def test_the_domain_plugin_leaves_other_manifests_alone() -> None:
    other = load_manifest({"name": "petstore", "types": {"ModelInput": {"type": "object", "properties": {}}}})
    assert TinkexPlugin().pristine_type_classes(manifest=other) is None
