"""Run inside a throwaway virtualenv: a manifest using every feature block still works.

Whatever subset of plugins is installed, a plain call succeeds, the client closes, and no thread
is left behind. Prints one JSON line with the loaded plugin names.
"""

import json
import threading

import pristine_core as pc
from pristine_testing import LoopbackServer, json_reply

MANIFEST = {
    "name": "smoke",
    "pools": {"default": {"connections": 4, "concurrency": 4}},
    "retry_policies": {"default": {"max_retries": 1, "base_delay_s": 0.01}},
    "defaults": {"retry": "default", "pool": "default"},
    "resources": {
        "session": {
            "create": {"method": "POST", "path": "/session", "request": "NewSession", "response": "Session"},
            "beat": {"method": "POST", "path": "/beat", "request": "Beat"},
        },
        "futures": {"retrieve": {"method": "POST", "path": "/retrieve", "request": "Retrieve"}},
        "telemetry": {"send": {"method": "POST", "path": "/telemetry", "request": "Batch"}},
        "things": {"get": {"method": "GET", "path": "/things/{id}"}},
    },
    "types": {
        "NewSession": {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}},
        "Session": {"type": "object", "properties": {"session_id": {"type": "string"}}, "required": ["session_id"]},
        "Beat": {"type": "object", "properties": {"session_id": {"type": "string"}}},
        "Retrieve": {
            "type": "object",
            "properties": {"request_id": {"type": "string"}, "allow_metadata_only": {"type": "boolean"}},
        },
        "Batch": {"type": "object", "properties": {"events": {"type": "array", "items": {"type": "any"}}}},
    },
    "features": {
        "session": {
            "create_endpoint": "session.create",
            "heartbeat_endpoint": "session.beat",
            "interval_s": 10,
            "id_field": "session_id",
        },
        "futures": {"retrieve_endpoint": "futures.retrieve"},
        "telemetry": {"endpoint": "telemetry.send", "batch_size": 10, "flush_interval_s": 10},
        "streaming": {"reconnect": False},
        "retry": {"idempotency_header": "X-Idempotency-Key", "attempt_header": "X-Retry-Count"},
    },
}

before = set(threading.enumerate())
def reply(request):  # type: ignore[no-untyped-def]
    return json_reply({"session_id": "s-1"} if request.path == "/session" else {"id": "1"})


with LoopbackServer(reply) as server:
    with pc.Client(MANIFEST, base_url=server.url) as client:
        got = client.things.get(id="1")
        assert got == {"id": "1"}, got
        names = [record.name for record in client.meta.plugins()]
    ours = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    # The loopback server's own threads are the test's, not the client's.
    leftover = [t.name for t in ours if "process_request" not in t.name and t.name != "loopback-server"]
print(json.dumps({"plugins": names, "leftover_threads": leftover}))
