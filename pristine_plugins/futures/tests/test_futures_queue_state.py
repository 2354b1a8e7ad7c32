"""Queue states: parsing, observers (object or callable), the rate-limited logger."""

from __future__ import annotations

import logging

import pytest

from pristine_core import FakeClock
from pristine_plugins.futures import DEFAULT_REASONS, QueueState, QueueStateLogger
from pristine_testing import json_reply


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("active", QueueState.ACTIVE),
        (" Paused_Capacity ", QueueState.PAUSED_CAPACITY),
        ("PAUSED_RATE_LIMIT", QueueState.PAUSED_RATE_LIMIT),
        ("sleeping", QueueState.UNKNOWN),
        (None, QueueState.UNKNOWN),
        (3, QueueState.UNKNOWN),
    ],
)
def test_queue_state_parse(wire, expected):
    assert QueueState.parse(wire) is expected


def test_logger_logs_paused_states_at_most_once_a_minute():
    clock = FakeClock()
    lines: list[str] = []
    logger = QueueStateLogger("Training", "model-1", clock=clock, sink=lines.append)
    logger.on_queue_state_change(QueueState.ACTIVE, None)
    assert lines == []
    logger.on_queue_state_change(QueueState.PAUSED_CAPACITY, None)
    logger.on_queue_state_change(QueueState.PAUSED_RATE_LIMIT, "busy")
    clock.advance(59.9)
    logger.on_queue_state_change(QueueState.PAUSED_RATE_LIMIT, "busy")
    assert len(lines) == 1
    clock.advance(0.1)
    logger.on_queue_state_change(QueueState.PAUSED_RATE_LIMIT, "  server says wait ")
    clock.advance(60)
    logger.on_queue_state_change(QueueState.PAUSED_RATE_LIMIT, None)
    clock.advance(60)
    logger.on_queue_state_change(QueueState.UNKNOWN, "")
    assert lines == [
        f"Training is paused for model-1. Reason: {DEFAULT_REASONS['paused_capacity']}",
        "Training is paused for model-1. Reason: server says wait",
        f"Training is paused for model-1. Reason: {DEFAULT_REASONS['paused_rate_limit']}",
        "Training is paused for model-1. Reason: unknown",
    ]


def test_logger_reasons_can_be_overridden():
    lines: list[str] = []
    logger = QueueStateLogger(
        "Sampling", "s-1", clock=FakeClock(), reasons={"paused_rate_limit": "too many samplers"}, sink=lines.append
    )
    logger.on_queue_state_change(QueueState.PAUSED_RATE_LIMIT, None)
    assert lines == ["Sampling is paused for s-1. Reason: too many samplers"]


def test_label_option_uses_a_shared_logger_per_identifier(future_server, make_client, caplog):
    reasons = {"Training": {"paused_rate_limit": "concurrent training clients rate limit hit"}}
    client = make_client(future_server.url, futures={"queue_state_reasons": reasons})
    paused = json_reply({"type": "try_again", "queue_state": "paused_rate_limit"})
    future_server.script("r1", paused)
    future_server.script("r2", paused)
    options = {"extensions": {"queue_state_label": "Training", "queue_state_id": "model-7"}}
    with caplog.at_level(logging.WARNING, logger="pristine_plugins.futures"):
        client.jobs.submit(x=1, request_options=options).result(timeout=10)
        client.jobs.submit(x=2, request_options=options).result(timeout=10)
    messages = [r.getMessage() for r in caplog.records if "is paused" in r.getMessage()]
    # Two futures for the same id within a minute (fake clock): logged once.
    assert len(messages) == 1
    assert "Training is paused for model-7. Reason: concurrent training clients rate limit hit" in messages[0]


def test_callable_observer_and_client_default_observer(future_server, make_client):
    calls: list[tuple[str, str | None]] = []
    client = make_client(
        future_server.url, config={"queue_state_observer": lambda state, reason: calls.append((str(state), reason))}
    )
    future_server.script(
        "r1",
        json_reply({"type": "try_again", "queue_state": "unknown"}),  # no information: not reported
        json_reply({"type": "TRY_AGAIN", "queue_state": "paused_rate_limit", "queue_state_reason": "r"}),
        json_reply({"type": "try_again", "queue_state": "paused_rate_limit", "queue_state_reason": "r"}),
        json_reply({"type": "try_again", "queue_state": "paused_rate_limit", "queue_state_reason": "other"}),
    )
    client.jobs.submit(x=1).result(timeout=10)
    assert calls == [("paused_rate_limit", "r"), ("paused_rate_limit", "other")]


def test_failing_observer_does_not_break_polling(future_server, make_client, caplog):
    class Broken:
        def on_queue_state_change(self, state, reason):
            raise RuntimeError("observer bug")

    client = make_client(future_server.url)
    future_server.script("r1", json_reply({"type": "try_again", "queue_state": "paused_capacity"}))
    with caplog.at_level(logging.WARNING, logger="pristine_plugins.futures"):
        future = client.jobs.submit(x=1, request_options={"extensions": {"queue_state_observer": Broken()}})
        assert future.result(timeout=10).value == 1
    assert any("observer bug" in r.getMessage() for r in caplog.records)
