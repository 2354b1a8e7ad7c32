"""Many clients at once: 200 requests from 50 threads, futures included, no errors."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests


def test_200_concurrent_requests_from_50_threads(api: Any) -> None:
    sid = api.session()
    models = [api.model(sid, seq=i) for i in range(5)]
    sampler = api.ok("create_sampling_session", {"session_id": sid, "sampling_session_seq_id": 0,
                                                 "base_model": "base-a"})["sampling_session_id"]
    seq_lock = threading.Lock()
    next_seq = dict.fromkeys(models, 1)
    local = threading.local()
    sessions: list[requests.Session] = []

    def http() -> requests.Session:
        if not hasattr(local, "s"):
            local.s = requests.Session()
            local.s.headers["X-API-Key"] = "tml-load"
            with seq_lock:
                sessions.append(local.s)
        return local.s

    def one(i: int) -> int:
        kind = i % 4
        s = http()
        if kind == 0:
            return s.get(api.url("healthz"), timeout=30).status_code
        if kind == 1:
            return s.post(api.url("get_info"), json={"model_id": models[i % 5]}, timeout=30).status_code
        if kind == 2:
            body = {"sampling_session_id": sampler, "sampling_params": {"max_tokens": 3, "seed": i},
                    "prompt": {"chunks": [{"type": "encoded_text", "tokens": [i % 256, 1]}]}}
            rid = s.post(api.url("asample"), json=body, timeout=30).json()["request_id"]
        else:
            mid = models[i % 5]
            with seq_lock:  # seq ids are allocated in order per model, but sent concurrently
                seq = next_seq[mid]
                next_seq[mid] += 1
            rid = s.post(api.url("forward_backward"), json=api.fwdbwd(mid, seq), timeout=30).json()["request_id"]
        while True:
            r = s.post(api.url("retrieve_future"), json={"request_id": rid}, timeout=30)
            if r.status_code != 200 or r.json().get("type") != "try_again":
                return r.status_code if "error" not in r.json() else 500

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(one, range(200)))
    for session in sessions:
        session.close()
    assert statuses == [200] * 200
    for mid in models:
        applied = api.emu.applied_seq_ids(mid)
        assert applied == list(range(1, len(applied) + 1)) and len(applied) == 10
    assert api.emu.stats()["asample"].count == 50
