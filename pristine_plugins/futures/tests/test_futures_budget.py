"""The two-phase (metadata-only) result path and the shared response byte budget."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pristine_plugins.futures import FutureClosedError, ResponseBudget, shared_budget
from pristine_runtime.tenancy import Tenant
from pristine_testing import Reply, SeenRequest, json_reply


def eventually(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Wait (bounded) for another thread to make ``predicate`` true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    return predicate()


def metadata(size: int) -> Reply:
    return json_reply({"status": "complete_metadata", "response_payload_size": size})


def test_metadata_reserves_bytes_until_the_result_is_parsed(future_server, make_client, plugin):
    client = make_client(future_server.url)
    budget = plugin(client).budget
    seen_in_use: list[int] = []

    def full_result(request: SeenRequest) -> Reply:
        seen_in_use.append(budget.in_use)
        return json_reply({"value": 11})

    future_server.script("r1", metadata(300), full_result)
    future = client.jobs.submit(x=1)
    assert future.result(timeout=10).value == 11
    assert seen_in_use == [300]
    assert budget.in_use == 0
    bodies = [p.json()["allow_metadata_only"] for p in future_server.polls["r1"]]
    assert bodies == [True, False]


def test_exhausted_budget_parks_the_next_fetch_until_bytes_return(future_server, make_client, plugin):
    client = make_client(future_server.url, futures={"response_budget_bytes": 1000})
    budget = plugin(client).budget
    release = threading.Event()
    first_fetching = threading.Event()
    order: list[str] = []

    def held_full(request: SeenRequest) -> Reply:
        first_fetching.set()
        release.wait(5)
        order.append("r1 fetched")
        return json_reply({"value": 1})

    def second_full(request: SeenRequest) -> Reply:
        order.append("r2 fetched")
        return json_reply({"value": 2})

    future_server.script("r1", metadata(1200), held_full)  # larger than the budget: granted alone
    future_server.script("r2", metadata(10), second_full)
    first = client.jobs.submit(x=1)
    assert first_fetching.wait(5)
    assert budget.available == -200
    second = client.jobs.submit(x=2)
    assert eventually(lambda: budget.waiting == 1)
    assert not second.done()
    release.set()
    assert (first.result(timeout=10).value, second.result(timeout=10).value) == (1, 2)
    assert order == ["r1 fetched", "r2 fetched"]
    assert (budget.in_use, budget.waiting) == (0, 0)


def test_cancel_gives_bytes_back_to_parked_fetches(future_server, make_client, plugin):
    client = make_client(future_server.url, futures={"response_budget_bytes": 100})
    budget = plugin(client).budget
    release = threading.Event()
    fetching = threading.Event()

    def held_full(request: SeenRequest) -> Reply:
        fetching.set()
        release.wait(5)
        return json_reply({"value": 1})

    future_server.script("r1", metadata(150), held_full)
    future_server.script("r2", metadata(10))
    first = client.jobs.submit(x=1)
    assert fetching.wait(5)
    second = client.jobs.submit(x=2)
    assert eventually(lambda: budget.waiting == 1)
    assert first.cancel()
    # r1's bytes came back, so r2 was granted and resolves.
    assert second.result(timeout=10).value == 2
    assert budget.in_use == 0
    release.set()


def test_close_discards_parked_reservations(future_server, make_client, plugin):
    client = make_client(future_server.url, futures={"response_budget_bytes": 100, "close_timeout_s": 0.1})
    budget = plugin(client).budget
    release = threading.Event()
    fetching = threading.Event()

    def held_full(request: SeenRequest) -> Reply:
        fetching.set()
        release.wait(5)
        return json_reply({"value": 1})

    future_server.script("r1", metadata(500), held_full)
    future_server.script("r2", metadata(10))
    first = client.jobs.submit(x=1)
    assert fetching.wait(5)
    second = client.jobs.submit(x=2)
    assert eventually(lambda: budget.waiting == 1)
    stragglers = plugin(client).threads()
    client.close()
    assert isinstance(first.exception(timeout=0), FutureClosedError)
    assert isinstance(second.exception(timeout=0), FutureClosedError)
    assert (budget.in_use, budget.waiting) == (0, 0)
    release.set()
    for thread in stragglers:
        thread.join(5)
        assert not thread.is_alive()


def test_budget_overdraws_while_positive_and_grants_in_order():
    budget = ResponseBudget(100)
    granted: list[str] = []
    assert budget.reserve(150, lambda: granted.append("big"))
    assert budget.available == -50
    assert not budget.reserve(10, lambda: granted.append("a"), owner="a")
    assert not budget.reserve(20, lambda: granted.append("b"), owner="b")
    assert not budget.reserve(30, lambda: granted.append("c"), owner="c")
    assert budget.discard("c") == 1
    budget.release(60)  # available 10: grants "a" (-> 0), "b" must wait
    assert granted == ["a"]
    budget.release(90)
    assert granted == ["a", "b"]
    budget.release(10)
    budget.release(20)
    assert (budget.available, budget.in_use, budget.waiting) == (100, 0, 0)


def test_budget_is_shared_per_base_url_and_key():
    first = shared_budget(Tenant.of("http://budget.test/", "key-a"), 10)
    assert shared_budget(Tenant.of("http://BUDGET.test", "key-a"), 99) is first
    assert first.capacity == 10
    assert shared_budget(Tenant.of("http://budget.test", "key-b"), 10) is not first
    assert shared_budget(Tenant.of("http://other.test", "key-a"), 10) is not first
