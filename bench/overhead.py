"""Per-call overhead of a manifest call against a bare ``requests.Session`` call.

Three contenders hit the same loopback endpoint with keep-alive, interleaved in rounds so that
machine noise hits all alike: bare requests, a Pristine client with no plugin, and a Pristine
client with every installed plugin loaded (retry loop, pool middleware, futures, streaming...).
Two headlines, both ratios of medians against the stricter bare baseline (target <= 1.15).
A fourth contender, the no-plugin client with an explicit ``timeout_s`` (a call deadline, so every
attempt runs under a socket deadline guard), prints what a deadline costs against the same
client without one.

    python bench/overhead.py [--calls 300] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import statistics
import threading
import time

import requests

import pristine_core as pc

BODY = json.dumps({"id": "7", "name": "Rex", "tags": ["a", "b"], "kind": "dog"}).encode()
MANIFEST = {
    "name": "bench",
    "auth": {"header": "X-API-Key"},
    "resources": {"pets": {"get": {"method": "GET", "path": "/pets/{pet_id}", "response": "Pet"}}},
    "types": {
        "Pet": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "kind": {"type": "string", "enum": ["cat", "dog"]},
            },
            "required": ["id", "name"],
        }
    },
}


class CannedServer:
    """A minimal keep-alive HTTP server answering every GET with one canned response.

    Much faster than ``http.server``, so that client-side costs dominate the measurement.
    """

    def __init__(self, body: bytes) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        self.response = head.encode() + body
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.threads: list[threading.Thread] = []
        self.stopping = False

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = b""
        with conn:
            while not self.stopping:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    _, _, buffer = buffer.partition(b"\r\n\r\n")
                    conn.sendall(self.response)

    def _accept(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def __enter__(self) -> CannedServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self.threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping = True
        self.sock.close()


def _serve_forever(port_queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    with CannedServer(BODY) as server:
        port_queue.put(server.url)
        threading.Event().wait()


class ServerProcess:
    """The canned server in its own process, so it never competes for this process's GIL."""

    def __enter__(self) -> ServerProcess:
        queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        self.process = multiprocessing.Process(target=_serve_forever, args=(queue,), daemon=True)
        self.process.start()
        self.url = queue.get(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(5)


def _time(fn, calls: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with ServerProcess() as server:
        session = requests.Session()
        strict_session = requests.Session()
        strict_session.trust_env = False  # skips per-call proxy lookups in the environment
        url = f"{server.url}/pets/7"
        headers = {"X-API-Key": "key-123456", "Accept": "application/json"}

        def bare() -> None:
            response = session.get(url, headers=headers, timeout=5)
            response.raise_for_status()
            response.json()

        def bare_strict() -> None:
            response = strict_session.get(url, headers=headers, timeout=5)
            response.raise_for_status()
            response.json()

        with (
            pc.Client(MANIFEST, base_url=server.url, api_key="key-123456", autoload_plugins=False) as client,
            pc.Client(MANIFEST, base_url=server.url, api_key="key-123456") as loaded,
            pc.Client(
                MANIFEST, base_url=server.url, api_key="key-123456", autoload_plugins=False, timeout_s=5
            ) as bounded,
        ):
            get = client.pets.get
            get_loaded = loaded.pets.get
            plugins = [r.name for r in loaded.meta.plugins()]

            def managed() -> None:
                get(pet_id="7")

            def managed_all() -> None:
                get_loaded(pet_id="7")

            get_bounded = bounded.pets.get

            def managed_deadline() -> None:
                get_bounded(pet_id="7")

            for fn in (bare, bare_strict, managed, managed_all, managed_deadline):
                _time(fn, 50)
            times: dict[str, list[float]] = {"bare": [], "strict": [], "managed": [], "all": [], "deadline": []}
            for _ in range(args.rounds):
                times["bare"].append(_time(bare, args.calls))
                times["strict"].append(_time(bare_strict, args.calls))
                times["managed"].append(_time(managed, args.calls))
                times["all"].append(_time(managed_all, args.calls))
                times["deadline"].append(_time(managed_deadline, args.calls))
        session.close()
        strict_session.close()
    bare_us, strict_us, managed_us, all_us, deadline_us = (
        statistics.median(times[k]) * 1e6 for k in ("bare", "strict", "managed", "all", "deadline")
    )
    print(f"bare requests.Session (defaults):   {bare_us:8.1f} us/call (median of {args.rounds} rounds x {args.calls})")
    print(f"bare requests.Session (trust_env off): {strict_us:8.1f} us/call")
    print(f"pristine manifest call (validated, typed): {managed_us:8.1f} us/call")
    print(f"pristine call, every plugin loaded ({', '.join(plugins)}): {all_us:8.1f} us/call")
    print(f"ratio vs default session: {managed_us / bare_us:.3f} (no plugins), {all_us / bare_us:.3f} (all plugins)")
    print(f"ratio vs trust_env-off session (the stricter baseline): {managed_us / strict_us:.3f}")
    print(f"overhead_ratio_all_plugins: {all_us / strict_us:.3f}")
    print(f"pristine call with a call deadline (timeout_s=5, guarded socket): {deadline_us:8.1f} us/call")
    print(f"deadline_ratio (with / without a deadline, no plugins): {deadline_us / managed_us:.3f}")
    print(f"overhead_ratio: {managed_us / strict_us:.3f}")


if __name__ == "__main__":
    main()
