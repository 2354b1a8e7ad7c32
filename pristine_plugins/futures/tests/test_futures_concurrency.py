"""Futures as concurrent.futures / asyncio citizens; bounded threads; combiner; close."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import pytest

from pristine_core import RequestFailedError
from pristine_plugins.futures import APIFuture, FutureClosedError, combine_futures, resolved
from pristine_testing import Reply, SeenRequest, json_reply

PREFIX = "pristine-futures"


def plugin_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(PREFIX)]


class ThreadSampler:
    """Counts live threads (ours and all) on a background thread until stopped."""

    def __init__(self) -> None:
        self.peak_ours = 0
        self.peak_all = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_ours = max(self.peak_ours, len(plugin_threads()))
            self.peak_all = max(self.peak_all, threading.active_count())
            self._stop.wait(0.002)

    def __enter__(self) -> ThreadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def held_reply(release: threading.Event, reply: Reply, arrived: threading.Event | None = None, limit_s: float = 5.0):
    """A scripted step that blocks (at most ``limit_s``) until ``release`` is set."""

    def step(request: SeenRequest) -> Reply:
        if arrived is not None:
            arrived.set()
        release.wait(limit_s)
        return reply

    return step


def test_thousand_futures_share_a_bounded_pool(future_server, make_client, plugin, capsys):
    workers = 16
    client = make_client(
        future_server.url,
        futures={"max_workers": workers, "poll_timeout_s": 60},
        pools={"default": {"connections": workers}},
    )
    count = 1000
    gate = threading.Event()
    # Every first poll is a long poll held until all futures exist, so all 1000 are pending at once.
    for i in range(1, count + 1):
        future_server.script(f"r{i}", held_reply(gate, json_reply({"type": "try_again"}), limit_s=40))
    before = threading.active_count()
    with ThreadSampler() as sampler:
        futures = [client.jobs.submit(x=i) for i in range(count)]
        assert not any(f.done() for f in futures)
        assert plugin(client).pending() == count
        gate.set()
        done, not_done = concurrent.futures.wait(futures, timeout=60)
    assert not not_done
    assert sorted(f.result().value for f in done) == list(range(1, count + 1))
    assert sum(len(p) for p in future_server.polls.values()) == 2 * count
    scheduler = plugin(client).scheduler
    assert 1 <= scheduler.peak_workers <= workers
    assert sampler.peak_ours <= workers + 1  # the workers, plus the timer thread if a back-off happened
    with capsys.disabled():
        print(
            f"\n[futures] {count} concurrent futures: peak plugin threads {scheduler.peak_workers}"
            f" (sampled {sampler.peak_ours}, bound {workers}); peak process threads {sampler.peak_all}"
            f" (baseline {before}; includes the loopback server's threads)"
        )


def test_wait_and_as_completed(future_server, make_client):
    client = make_client(future_server.url)
    release = threading.Event()
    future_server.script("r1", held_reply(release, json_reply({"value": 1})))
    futures = [client.jobs.submit(x=i) for i in range(3)]
    done, pending = concurrent.futures.wait(futures, timeout=10, return_when=concurrent.futures.FIRST_COMPLETED)
    assert done and futures[0] in pending
    release.set()
    seen = [f.result().value for f in concurrent.futures.as_completed(futures, timeout=10)]
    assert sorted(seen) == [1, 2, 3]


def test_await_in_asyncio(future_server, make_client):
    client = make_client(future_server.url)

    async def main() -> list[int]:
        futures = [client.jobs.submit(x=i) for i in range(3)]
        results = await asyncio.gather(*futures)
        single = await client.jobs.submit(x=9).result_async(timeout=10)
        return [r.value for r in results] + [single.value]

    assert asyncio.run(main()) == [1, 2, 3, 4]


def test_result_async_timeout_keeps_polling(future_server, make_client):
    client = make_client(future_server.url)
    release = threading.Event()
    future_server.script("r1", held_reply(release, json_reply({"value": 1})))
    future = client.jobs.submit(x=1)

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await future.result_async(timeout=0.01)

    asyncio.run(main())
    assert not future.cancelled()
    release.set()
    assert future.result(timeout=10).value == 1


def test_cancelling_the_awaiting_task_cancels_the_future(future_server, make_client):
    client = make_client(future_server.url)
    release = threading.Event()
    arrived = threading.Event()
    future_server.script("r1", held_reply(release, json_reply({"value": 1}), arrived))
    future = client.jobs.submit(x=1)
    assert arrived.wait(5)

    async def waiter() -> None:
        task = asyncio.create_task(_await(future))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(waiter())
    assert future.cancelled()
    release.set()


async def _await(future: APIFuture) -> object:
    return await future


def test_cancel_stops_polling(future_server, make_client, plugin):
    client = make_client(future_server.url, futures={"max_workers": 1})
    release = threading.Event()
    arrived = threading.Event()
    future_server.script("r1", held_reply(release, json_reply({"type": "try_again"}), arrived))
    future_server.script("r2", json_reply({"type": "try_again"}))
    first = client.jobs.submit(x=1)
    assert arrived.wait(5)
    second = client.jobs.submit(x=2)
    assert first.cancel()
    assert plugin(client).pending() == 1
    release.set()
    # One worker, FIFO: r1's re-scheduled step runs (and stops) before r2's second poll.
    assert second.result(timeout=10).value == 2
    assert len(future_server.polls["r1"]) == 1
    with pytest.raises(concurrent.futures.CancelledError):
        first.result()


def test_combine_futures_merges_in_order(future_server, make_client):
    client = make_client(future_server.url)
    future_server.script("r1", json_reply({"type": "try_again"}), json_reply({"type": "try_again"}))
    parts = [client.jobs.submit(x=i) for i in range(3)]
    combined = combine_futures(parts, lambda results: [r.value for r in results])
    assert combined.result(timeout=10) == [1, 2, 3]
    assert combine_futures([], len).result(timeout=0) == 0
    assert combine_futures([resolved(2), resolved(3)], sum).result(timeout=0) == 5


def test_combine_futures_fails_with_the_first_error(future_server, make_client):
    client = make_client(future_server.url)
    future_server.script("r2", json_reply({"error": "bad chunk", "category": "user"}))
    parts = [client.jobs.submit(x=i) for i in range(3)]
    combined = combine_futures(parts, lambda results: results)
    with pytest.raises(RequestFailedError, match="bad chunk"):
        combined.result(timeout=10)
    broken = combine_futures([resolved(1)], lambda results: 1 / 0)
    assert isinstance(broken.exception(timeout=0), ZeroDivisionError)


def test_cancelling_a_combination_cancels_its_parts():
    parts = [APIFuture("a"), APIFuture("b")]
    combined = combine_futures(parts, list)
    assert combined.cancel()
    assert all(p.cancelled() for p in parts)
    part = APIFuture("c")
    other = combine_futures([part], list)
    part.cancel()
    assert isinstance(other.exception(timeout=0), concurrent.futures.CancelledError)


def test_close_leaves_no_thread(future_server, make_client, plugin):
    client = make_client(future_server.url, futures={"max_workers": 8})
    future_server.script("r1", Reply(429))  # starts the timer thread too
    futures = [client.jobs.submit(x=i) for i in range(20)]
    concurrent.futures.wait(futures, timeout=10)
    assert plugin(client).threads()
    client.close()
    assert plugin(client).threads() == []
    assert plugin_threads() == []


def test_close_fails_pending_futures_in_bounded_time(future_server, make_client, plugin):
    client = make_client(future_server.url, futures={"max_workers": 1, "close_timeout_s": 0.2})
    release = threading.Event()
    arrived = threading.Event()
    future_server.script("r1", held_reply(release, json_reply({"value": 1}), arrived))
    first = client.jobs.submit(x=1)
    assert arrived.wait(5)
    second = client.jobs.submit(x=2)  # queued behind the in-flight poll
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 2
    for future in (first, second):
        error = future.exception(timeout=0)
        assert isinstance(error, FutureClosedError)
        assert future.request_id in str(error)
    stragglers = plugin(client).threads()
    release.set()
    for thread in stragglers:
        thread.join(5)
    assert plugin_threads() == []


def test_future_after_close_fails_at_once(future_server, make_client, plugin):
    client = make_client(future_server.url)
    client.jobs.submit(x=1).result(timeout=10)
    plugin(client).close()
    late = plugin(client).future_for("r99", endpoint="jobs.submit")
    assert isinstance(late.exception(timeout=0), FutureClosedError)
