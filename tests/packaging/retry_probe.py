"""Run inside a throwaway virtualenv: does a 503-then-200 endpoint get retried?

Prints one JSON line: {"outcome": "ok"|"<ErrorClass>", "requests": <count seen by the server>}.
The code is identical whether or not pristine-retry is installed; only the installation differs.
"""

import json

import pristine_core as pc
from pristine_testing import LoopbackServer, json_reply

MANIFEST = {
    "name": "probe",
    "retry_policies": {"default": {"max_retries": 2, "base_delay_s": 0.01, "max_delay_s": 0.02}},
    "defaults": {"retry": "default"},
    "resources": {"things": {"get": {"method": "GET", "path": "/things/{id}"}}},
}
replies = iter([json_reply({"error": "busy"}, status=503), json_reply({"id": "1"})])
with LoopbackServer(lambda request: next(replies, json_reply({"id": "1"}))) as server:
    with pc.Client(MANIFEST, base_url=server.url) as client:
        try:
            client.things.get(id="1")
            outcome = "ok"
        except pc.PristineError as exc:
            outcome = type(exc).__name__
    print(json.dumps({"outcome": outcome, "requests": len(server.requests)}))
