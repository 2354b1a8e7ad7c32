"""Checkpoints: real files, exact restore, listings, publish, TTL, delete, archives, weights info."""

from __future__ import annotations

import io
import tarfile
from typing import Any
from urllib.parse import quote

import numpy as np
import requests

from tinkex_domain.emulator import ManualClock


def _train(api: Any, mid: str, first_seq: int, steps: int) -> int:
    """``steps`` rounds of fwd/bwd + optim starting at ``first_seq``; returns the next seq."""
    seq = first_seq
    for i in range(steps):
        data = [api.datum([1 + i, 2 + i, 3, 4, 5]), api.datum([9, 8, 7 + i])]
        api.done(api.ok("forward_backward", api.fwdbwd(mid, seq, data))["request_id"])
        api.done(api.ok("optim_step", api.optim(mid, seq + 1, lr=0.05))["request_id"])
        seq += 2
    return seq


def _save(api: Any, mid: str, seq: int, name: str, **extra: Any) -> str:
    body = {"model_id": mid, "seq_id": seq, "path": name, **extra}
    return api.done(api.ok("save_weights", body)["request_id"])["path"]


def _archive(api: Any, tinker_path: str) -> dict[str, bytes]:
    run, kind, name = tinker_path[len("tinker://"):].split("/")
    r = api.get(f"training_runs/{run}/checkpoints/{kind}/{name}/archive", allow_redirects=False)
    assert r.status_code == 302, r.text
    tar_bytes = requests.get(r.headers["Location"], timeout=5)  # no API key: pre-signed link
    assert tar_bytes.status_code == 200
    assert tar_bytes.headers["Content-Type"] == "application/x-tar"
    assert int(tar_bytes.headers["Content-Length"]) == len(tar_bytes.content)
    with tarfile.open(fileobj=io.BytesIO(tar_bytes.content)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def _npz(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob)) as data:
        return {k: data[k] for k in data.files}


def test_save_load_continue_is_bit_identical_to_straight_training(api: Any) -> None:
    sid = api.session()
    straight = api.model(sid, seq=0)
    _train(api, straight, 1, 4)
    straight_path = _save(api, straight, 9, "final")

    resumed = api.model(sid, seq=1)
    seq = _train(api, resumed, 1, 2)
    mid_path = _save(api, resumed, seq, "half")
    # a third model loads the checkpoint (weights + optimizer) and continues
    other = api.model(sid, seq=2)
    load = {"model_id": other, "seq_id": 1, "path": mid_path, "optimizer": True}
    assert api.done(api.ok("load_weights", load)["request_id"])["path"] == mid_path
    seq = 2
    for i in range(2, 4):
        data = [api.datum([1 + i, 2 + i, 3, 4, 5]), api.datum([9, 8, 7 + i])]
        api.done(api.ok("forward_backward", api.fwdbwd(other, seq, data))["request_id"])
        api.done(api.ok("optim_step", api.optim(other, seq + 1, lr=0.05))["request_id"])
        seq += 2
    resumed_path = _save(api, other, seq, "final")

    a, b = _archive(api, straight_path), _archive(api, resumed_path)
    assert set(a) == {"weights.npz", "optimizer.npz", "adapter_config.json", "checkpoint.json",
                      "checkpoint_complete"}
    for name in ("weights.npz", "optimizer.npz"):
        wa, wb = _npz(a[name]), _npz(b[name])
        assert wa.keys() == wb.keys()
        for key in wa:
            assert wa[key].dtype == wb[key].dtype and wa[key].tobytes() == wb[key].tobytes(), key
    # and the weights really moved away from the initial state
    assert np.abs(_npz(a["weights.npz"])["bias"]).sum() > 0


def test_load_without_optimizer_resets_nothing_but_weights(api: Any) -> None:
    sid = api.session()
    src = api.model(sid, seq=0)
    seq = _train(api, src, 1, 1)
    path = _save(api, src, seq, "one")
    dst = api.model(sid, seq=1)
    api.done(api.ok("load_weights", {"model_id": dst, "seq_id": 1, "path": path})["request_id"])
    src_state, dst_state = api.emu.model_state(src), api.emu.model_state(dst)
    assert src_state["bias"].tobytes() == dst_state["bias"].tobytes()
    assert int(dst_state["adam.step"]) == 0 and int(src_state["adam.step"]) == 1


def test_checkpoint_files_on_disk_and_delete_removes_them(api: Any) -> None:
    sid = api.session()
    mid = api.model(sid)
    path = _save(api, mid, 1, "ckpt-a")
    assert path == f"tinker://{mid}/weights/ckpt-a"
    dirs = list(api.emu.state_dir.rglob("ckpt-a"))
    assert len(dirs) == 1
    assert {p.name for p in dirs[0].iterdir()} == {"weights.npz", "optimizer.npz", "adapter_config.json",
                                                   "checkpoint.json", "checkpoint_complete"}
    r = api.http.delete(api.url(f"training_runs/{mid}/checkpoints/weights/ckpt-a"))
    assert r.status_code == 200 and r.content == b""
    assert not dirs[0].exists()
    assert api.http.delete(api.url(f"training_runs/{mid}/checkpoints/weights/ckpt-a")).status_code == 404
    load = api.ok("load_weights", {"model_id": mid, "seq_id": 2, "path": path})
    failed = api.result(load["request_id"]).json()
    assert failed["category"] == "user" and "not found" in failed["error"]


def test_listings_publish_and_weights_info(api: Any) -> None:
    sid = api.session()
    mid = api.model(sid, rank=8)
    _save(api, mid, 1, "w1")
    sampler = api.done(api.ok("save_weights_for_sampler",
                              {"model_id": mid, "seq_id": 2, "path": "s1"})["request_id"])
    assert sampler["path"] == f"tinker://{mid}/sampler_weights/s1"
    listing = api.get(f"training_runs/{mid}/checkpoints").json()
    assert [c["checkpoint_id"] for c in listing["checkpoints"]] == ["sampler_weights/s1", "weights/w1"]
    first = listing["checkpoints"][1]
    assert first["checkpoint_type"] == "training" and first["public"] is False
    assert first["tinker_path"] == f"tinker://{mid}/weights/w1" and first["size_bytes"] > 0
    assert first["expires_at"] is None and first["time"].endswith("Z")

    base = f"training_runs/{quote(mid)}/checkpoints/weights/w1"  # %3A-encoded ids work too
    assert api.http.post(api.url(f"{base}/publish")).status_code == 200
    user = api.get("checkpoints", params={"limit": 1, "offset": 1}).json()
    assert user["cursor"] == {"offset": 1, "limit": 1, "total_count": 2}
    assert user["checkpoints"][0]["public"] is True
    assert api.http.delete(api.url(f"{base}/publish")).status_code == 200
    assert api.get("checkpoints").json()["checkpoints"][1]["public"] is False

    info = api.ok("weights_info", {"tinker_path": f"tinker://{mid}/weights/w1"})
    assert info == {"base_model": "base-a", "is_lora": True, "lora_rank": 8, "train_unembed": True,
                    "train_mlp": True, "train_attn": True}
    assert api.post("weights_info", {"tinker_path": "http://x"}).json()["field"] == "tinker_path"
    assert api.post("weights_info", {"tinker_path": f"tinker://{mid}/weights/nope"}).status_code == 404


def test_training_runs_list_and_get(api: Any) -> None:
    sid = api.session()
    a = api.model(sid, seq=0)
    b = api.model(sid, seq=1)
    _save(api, a, 1, "w")
    runs = api.get("training_runs", params={"limit": 1}).json()
    assert runs["cursor"] == {"offset": 0, "limit": 1, "total_count": 2}
    assert [r["training_run_id"] for r in runs["training_runs"]] == [b]
    run = api.get(f"training_runs/{a}").json()
    assert run["base_model"] == "base-a" and run["lora_rank"] == 4 and run["is_lora"] is True
    assert run["last_checkpoint"]["checkpoint_id"] == "weights/w"
    assert run["last_sampler_checkpoint"] is None
    assert api.get("training_runs/none:train:9").status_code == 404
    assert api.get("training_runs", params={"access_scope": "everyone"}).status_code == 400


def test_ttl_expiry_removes_checkpoint(make_emulator: Any, api_for: Any) -> None:
    clock = ManualClock()
    emu = make_emulator(clock=clock)
    api = api_for(emu)
    mid = api.model(api.session())
    _save(api, mid, 1, "short", ttl_seconds=100)
    _save(api, mid, 2, "kept")
    base = f"training_runs/{mid}/checkpoints/weights"
    listed = {c["checkpoint_id"]: c for c in api.get(f"training_runs/{mid}/checkpoints").json()["checkpoints"]}
    assert listed["weights/short"]["expires_at"] is not None
    assert api.http.put(api.url(f"{base}/kept/ttl"), json={"ttl_seconds": 50}).status_code == 200
    assert api.http.put(api.url(f"{base}/kept/ttl"), json={"ttl_seconds": None}).status_code == 200
    for bad in ({"ttl_seconds": 0}, {"ttl_seconds": "x"}, {}):
        r = api.http.put(api.url(f"{base}/kept/ttl"), json=bad)
        assert r.status_code == 400 and r.json()["field"] == "ttl_seconds"
    clock.advance(100)
    emu.check_timeouts()
    names = [c["checkpoint_id"] for c in api.get(f"training_runs/{mid}/checkpoints").json()["checkpoints"]]
    assert names == ["weights/kept"]
    assert list(emu.state_dir.rglob("short")) == []


def test_archive_json_mode_and_link_expiry(make_emulator: Any, api_for: Any) -> None:
    clock = ManualClock()
    emu = make_emulator(clock=clock, archive_mode="json", archive_url_ttl_s=60)
    api = api_for(emu)
    mid = api.model(api.session())
    _save(api, mid, 1, "w")
    r = api.get(f"training_runs/{mid}/checkpoints/weights/w/archive")
    assert r.status_code == 200 and set(r.json()) == {"url", "expires"}
    assert requests.get(r.json()["url"], timeout=5).status_code == 200
    clock.advance(60)
    assert requests.get(r.json()["url"], timeout=5).status_code == 410
    assert requests.get(f"{emu.base_url}/_emulator/archives/bogus", timeout=5).status_code == 404


def test_overwrite_false_refuses_existing_name(api: Any) -> None:
    mid = api.model(api.session())
    _save(api, mid, 1, "same")
    rid = api.ok("save_weights", {"model_id": mid, "seq_id": 2, "path": "same", "overwrite": False})
    assert "already exists" in api.result(rid["request_id"]).json()["error"]
    assert _save(api, mid, 3, "same") == f"tinker://{mid}/weights/same"  # overwrite by default
    r = api.post("save_weights", {"model_id": mid, "seq_id": 4, "path": "a/b"})
    assert r.status_code == 400 and r.json()["field"] == "path"


def test_create_model_from_checkpoint_via_load_weights(api: Any) -> None:
    sid = api.session()
    src = api.model(sid, seq=0, rank=6)
    seq = _train(api, src, 1, 1)
    path = _save(api, src, seq, "seed")
    out = api.ok("load_weights", {"session_id": sid, "model_seq_id": 1, "path": path, "optimizer": True})
    assert out["model_id"] == f"{sid}:train:1"
    assert api.done(out["request_id"]) == {"model_id": out["model_id"], "path": path, "type": "load_weights"}
    a, b = api.emu.model_state(src), api.emu.model_state(out["model_id"])
    assert all(a[k].tobytes() == b[k].tobytes() for k in a)
    assert api.ok("get_info", {"model_id": out["model_id"]})["lora_rank"] == 6


def test_state_dir_is_reused_across_restarts(make_emulator: Any, api_for: Any, tmp_path: Any) -> None:
    state = tmp_path / "state"
    first = make_emulator(state_dir=str(state))
    api = api_for(first)
    mid = api.model(api.session())
    _save(api, mid, 1, "persist")
    first.stop()
    second = make_emulator(state_dir=str(state))
    api2 = api_for(second)
    checkpoints = api2.get("checkpoints").json()["checkpoints"]
    assert [c["tinker_path"] for c in checkpoints] == [f"tinker://{mid}/weights/persist"]
    assert api2.get(f"training_runs/{mid}").json()["training_run_id"] == mid


def test_unload_and_get_info(api: Any) -> None:
    sid = api.session()
    mid = api.model(sid)
    info = api.ok("get_info", {"model_id": mid})
    assert info["model_id"] == mid and info["model_data"]["model_name"] == "base-a"
    assert info["is_lora"] is True and info["lora_rank"] == 4
    out = api.ok("unload_model", {"model_id": mid})
    assert api.done(out["request_id"]) == {"model_id": mid, "type": "unload_model"}
    r = api.post("forward_backward", api.fwdbwd(mid, 1))
    assert r.status_code == 404 and "unloaded" in r.json()["error"]
    assert api.get(f"training_runs/{mid}").status_code == 200  # the run stays listed
