"""Per-call overhead of a manifest call against a bare ``requests.Session`` call.

The contenders hit the same loopback endpoint with keep-alive: bare requests (default session
and the stricter ``trust_env=False`` one), a Pristine client with no plugin, and a Pristine
client with every installed plugin loaded (retry loop, pool middleware, futures, streaming...),
and the no-plugin client with an explicit ``timeout_s`` (a call deadline, so every attempt runs
under a socket deadline guard), which prints what a deadline costs against the same client
without one (``deadline_ratio``).

Noise (a shared 2-core machine) is fought by interleaving: the contenders take turns, a small
block of calls each (``--block``), in an order that rotates from round to round, so that a burst
of load hits all of them alike. Every turn gives a ratio against the strict baseline's block of
the same turn; the two headlines are the medians of those per-turn ratios over all rounds
(target <= 1.15). The spread printed is that of the per-round medians (quartiles, min-max):
how much the headline would move with fewer rounds.

Each block is timed twice: wall time (the headlines) and this thread's CPU time. The client's
work is CPU-bound (the canned server answers at once, from another process), so on a quiet
machine the two agree; on a loaded one, wall time also counts the time this process waited for
a core, and the CPU-time ratios (``*_cpu``) are the steadier reading of the client's own cost.
Load only ever slows a block down, so the fastest blocks are the least disturbed: the
``*_quiet`` lines divide the 10th percentiles of the contenders' CPU block times, an estimate of
what a quiet machine would show.

    python bench/overhead.py [--calls 300] [--rounds 9] [--block 10]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import statistics
import threading
import time
from collections.abc import Callable

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


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    """Lower quartile, median and upper quartile."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


#: One turn: per contender, (wall seconds, CPU seconds) for its block of calls.
Turn = dict[str, tuple[int, int]]


def _round(contenders: dict[str, Callable[[], None]], calls: int, block: int, shift: int) -> list[Turn]:
    """The turns of one round: blocks of ``block`` calls, contenders taking turns (in an order
    rotated by ``shift``) until each made ``calls`` calls."""
    names = list(contenders)
    names = names[shift % len(names) :] + names[: shift % len(names)]
    turns: list[Turn] = []
    done = 0
    while done < calls:
        n = min(block, calls - done)
        turn: Turn = {}
        for name in names:
            fn = contenders[name]
            start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
            for _ in range(n):
                fn()
            turn[name] = (time.perf_counter_ns() - start, time.thread_time_ns() - start_cpu)
        turns.append(turn)
        done += n
    return turns


def _ratios(rounds: list[list[Turn]], name: str, base: str, clock: int) -> tuple[float, list[float]]:
    """The median over every turn of ``name``'s time over ``base``'s, and each round's median."""
    per_round = [[t[name][clock] / max(t[base][clock], 1) for t in turns] for turns in rounds]
    everything = [ratio for ratios in per_round for ratio in ratios]
    return statistics.median(everything), [statistics.median(ratios) for ratios in per_round]


def _spread(label: str, headline: float, round_medians: list[float]) -> str:
    q1, _, q3 = _quartiles(round_medians)
    low, high = min(round_medians), max(round_medians)
    return f"ratio {label}: {headline:.3f} (per-round medians: quartiles {q1:.3f}-{q3:.3f}, range {low:.3f}-{high:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300, help="calls per contender per round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--block", type=int, default=10, help="calls in a row before the next contender's turn")
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

            contenders = {
                "bare": bare,
                "strict": bare_strict,
                "managed": managed,
                "all": managed_all,
                "deadline": managed_deadline,
            }
            _round(contenders, 50, args.block, 0)  # warm-up: connections, caches, branch history
            rounds = [_round(contenders, args.calls, args.block, i) for i in range(args.rounds)]
        session.close()
        strict_session.close()
    print(f"{args.rounds} rounds x {args.calls} calls per contender, interleaved in blocks of {args.block}")
    print(f"plugins loaded in the 'all plugins' client: {', '.join(plugins)}")
    headlines: dict[str, float] = {}
    for clock, index in (("wall", 0), ("cpu", 1)):
        us = {
            name: statistics.median(t[name][index] for turns in rounds for t in turns) / args.block / 1e3
            for name in contenders
        }
        print(f"-- {clock} time per call (median block)")
        print(f"bare requests.Session (defaults):      {us['bare']:8.1f} us")
        print(f"bare requests.Session (trust_env off): {us['strict']:8.1f} us")
        print(f"pristine manifest call, no plugins:    {us['managed']:8.1f} us")
        print(f"pristine call, every plugin loaded:    {us['all']:8.1f} us")
        print(f"pristine call with a call deadline (timeout_s=5, guarded socket, no plugins): {us['deadline']:8.1f} us")
        managed, managed_rounds = _ratios(rounds, "managed", "strict", index)
        loaded_ratio, loaded_rounds = _ratios(rounds, "all", "strict", index)
        default, default_rounds = _ratios(rounds, "managed", "bare", index)
        deadline, deadline_rounds = _ratios(rounds, "deadline", "managed", index)
        print(_spread("no plugins", managed, managed_rounds))
        print(_spread("all plugins", loaded_ratio, loaded_rounds))
        print(_spread("no plugins vs default session", default, default_rounds))
        print(_spread("with / without a deadline (no plugins)", deadline, deadline_rounds))
        suffix = "" if clock == "wall" else "_cpu"
        headlines[f"overhead_ratio_all_plugins{suffix}"] = loaded_ratio
        headlines[f"overhead_ratio{suffix}"] = managed
        headlines[f"deadline_ratio{suffix}"] = deadline
    def p10(name: str) -> float:
        samples = sorted(t[name][1] for turns in rounds for t in turns)
        return samples[len(samples) // 10]

    headlines["overhead_ratio_all_plugins_quiet"] = p10("all") / p10("strict")
    headlines["overhead_ratio_quiet"] = p10("managed") / p10("strict")
    for name, value in headlines.items():
        print(f"{name}: {value:.3f}")


if __name__ == "__main__":
    main()
