"""The README's job API, end to end, from its manifest alone (``data/jobs_manifest.json``).

Submit answers ``202`` with a ``Location: /jobs/<id>`` header; ``GET /jobs/{id}`` reports the
job's ``state`` (``QUEUED -> RUNNING -> SUCCEEDED | FAILED``) with the output at ``output`` and the
error at ``error.message``. No code beyond the manifest: ``Client(manifest)`` with the installed
plugins, a fake clock so waits take no real time.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from pristine_core import Client, FakeClock, RequestFailedError
from pristine_plugins.futures import APIFuture, FutureDeadlineError
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply

MANIFEST = Path(__file__).parent / "data" / "jobs_manifest.json"


class JobServer:
    """``POST /jobs`` starts a job whose states follow a script chosen by its text:
    ``"fail ..."`` fails, ``"stuck ..."`` stays RUNNING, ``"flaky ..."`` answers 503 once,
    ``"unpaid ..."`` answers 402 twice, the rest count words. Each ``GET`` moves the job one state on."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.jobs: dict[str, list[Reply]] = {}
        self.gets: dict[str, int] = {}
        self.server = LoopbackServer(self.handle)

    def _script(self, job_id: str, text: str) -> list[Reply]:
        def state(name: str, **more: Any) -> Reply:
            return json_reply({"id": job_id, "state": name, **more})

        words = text.split()
        if text.startswith("fail"):
            end = state("FAILED", error={"message": f"cannot count {words[1]!r}", "kind": "user"})
        elif text.startswith("stuck"):
            return [state("RUNNING")]
        else:
            end = state("SUCCEEDED", output={"words": len(words), "longest": max(words, key=len)})
        flaky = [Reply(503, b"busy")] if text.startswith("flaky") else []
        if text.startswith("unpaid"):
            flaky = [json_reply({"detail": "billing paused"}, 402)] * 2
        return [state("QUEUED"), *flaky, state("RUNNING"), state("RUNNING"), end]

    def handle(self, request: SeenRequest) -> Reply:
        if request.method == "POST" and request.path == "/jobs":
            job_id = f"j{next(self._ids)}"
            with self._lock:
                self.jobs[job_id] = self._script(job_id, request.json()["text"])
                self.gets[job_id] = 0
            return Reply(
                202,
                json.dumps({"accepted": True}).encode(),
                {"Content-Type": "application/json", "Location": f"/jobs/{job_id}"},
            )
        job_id = request.path.rsplit("/", 1)[-1]
        with self._lock:
            script = self.jobs.get(job_id)
            if request.method != "GET" or script is None:
                return json_reply({"detail": "no such job"}, 404)
            self.gets[job_id] += 1
            return script.pop(0) if len(script) > 1 else script[0]


@pytest.fixture
def jobs() -> Iterator[JobServer]:
    server = JobServer()
    with server.server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(jobs: JobServer, clock: FakeClock) -> Iterator[Client]:
    with Client(str(MANIFEST), base_url=jobs.server.url, api_key="job-key", clock=clock) as made:
        yield made


def test_a_job_resolves_to_its_output(client: Client, jobs: JobServer, clock: FakeClock) -> None:
    future = client.jobs.count_words(text="the quick brown fox")
    assert isinstance(future, APIFuture) and future.request_id == "j1"
    result = future.result(timeout=10)
    assert (result.words, result.longest) == (4, "quick")
    assert jobs.gets["j1"] == 4  # QUEUED, RUNNING, RUNNING, SUCCEEDED
    assert clock.sleeps == [2.0, 2.0, 2.0]  # the table's delay_s between polls


def test_a_failed_job_raises_request_failed_with_its_message(client: Client) -> None:
    with pytest.raises(RequestFailedError, match="cannot count 'everything'") as caught:
        client.jobs.count_words(text="fail everything").result(timeout=10)
    assert (caught.value.request_id, caught.value.category) == ("j1", "user")


def test_a_stuck_job_raises_the_deadline_error(client: Client, jobs: JobServer, clock: FakeClock) -> None:
    started = clock.monotonic()
    future = client.jobs.count_words(text="stuck forever", request_options={"futures": {"deadline_s": 30}})
    with pytest.raises(FutureDeadlineError, match="j1"):
        future.result(timeout=10)
    assert clock.monotonic() - started >= 30


def test_a_503_while_polling_is_retried_by_the_endpoints_retry_policy(
    client: Client, jobs: JobServer, clock: FakeClock
) -> None:
    assert client.jobs.count_words(text="flaky but fine").result(timeout=10).words == 3
    assert jobs.gets["j1"] == 5
    # The retry plugin waited base_delay_s (0.5) inside the poll; the table's 2 s between polls.
    assert sorted(clock.sleeps) == [0.5, 2.0, 2.0, 2.0]


def test_a_402_while_polling_is_waited_through_by_the_pause_rule(
    client: Client, jobs: JobServer, clock: FakeClock
) -> None:
    assert client.jobs.count_words(text="unpaid for now").result(timeout=10).words == 3
    assert jobs.gets["j1"] == 6
    assert sorted(clock.sleeps) == [2.0, 2.0, 2.0, 5.0, 5.0]


def test_an_unknown_job_fails_with_the_mapped_status_error(client: Client) -> None:
    from pristine_core import NotFoundError
    from pristine_plugins.futures import FuturesPlugin

    plugin = client.meta.plugin("futures")
    assert isinstance(plugin, FuturesPlugin)
    with pytest.raises(NotFoundError):
        plugin.future_for("nope", endpoint="jobs.count_words", result_type="WordCount").result(timeout=10)


def test_the_job_api_with_responses() -> None:
    base = "http://jobs.test"
    with responses.RequestsMock() as mock:
        mock.post(f"{base}/jobs", status=202, json={"accepted": True}, headers={"Location": f"{base}/jobs/abc"})
        mock.get(f"{base}/jobs/abc", json={"id": "abc", "state": "QUEUED"})
        mock.get(f"{base}/jobs/abc", json={"id": "abc", "state": "SUCCEEDED", "output": {"words": 2}})
        mock.post(f"{base}/jobs", status=202, json={}, headers={"Location": "/jobs/def"})
        mock.get(f"{base}/jobs/def", json={"id": "def", "state": "FAILED", "error": {"message": "too long"}})
        with Client(str(MANIFEST), base_url=base, api_key="k", clock=FakeClock()) as client:
            assert client.jobs.count_words(text="two words").result(timeout=10).words == 2
            with pytest.raises(RequestFailedError, match="too long") as caught:
                client.jobs.count_words(text="x " * 10_000).result(timeout=10)
            assert caught.value.category == "unknown"
        gets = [c.request.url for c in mock.calls if c.request.method == "GET"]
        assert gets == [f"{base}/jobs/abc", f"{base}/jobs/abc", f"{base}/jobs/def"]
