"""The core backoff and Retry-After module (times come from a fake clock; nothing sleeps)."""

from __future__ import annotations

import email.utils
import random

import pytest

from pristine_runtime.backoff import clamp, exponential, retry_after_s, seconds_from_ms
from pristine_runtime.clock import FakeClock

NOW = 1_700_000_000.0


def http_date(epoch: float) -> str:
    return email.utils.formatdate(epoch, usegmt=True)


def test_exponential_doubles_from_the_base_up_to_the_cap() -> None:
    assert [exponential(n, 1.0, 10.0) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert exponential(10_000, 0.5, 30.0) == 30.0  # no overflow on huge attempts
    assert exponential(-3, 1.0, 10.0) == 1.0
    assert exponential(2, 1.0, 100.0, factor=3.0) == 9.0
    assert exponential(3, 5.0, -1.0) == 0.0  # never negative


def test_jitter_reduces_by_at_most_its_fraction_and_is_repeatable_with_a_seeded_rng() -> None:
    draws = [exponential(3, 1.0, 60.0, jitter=0.25, rng=random.Random(7)) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]
    rng = random.Random(1)
    for _ in range(200):
        value = exponential(3, 1.0, 60.0, jitter=0.25, rng=rng)
        assert 6.0 <= value <= 8.0
    assert exponential(3, 1.0, 60.0, jitter=1.0, rng=random.Random(3)) >= 0.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "-4"}, None),  # a negative number is malformed
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "soon"}, None),
        ({}, None),
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After-Ms": "250", "Retry-After": "9"}, 0.25),  # ms wins
        ({"retry-after-ms": "-5", "Retry-After": "2"}, 2.0),  # a bad ms falls back to Retry-After
        ({"retry-after-ms": "x"}, None),
    ],
)
def test_retry_after_seconds_and_milliseconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_s(headers, FakeClock(NOW).time()) == expected


def test_retry_after_http_dates_on_the_clock() -> None:
    clock = FakeClock(NOW)
    assert retry_after_s({"Retry-After": http_date(NOW + 20)}, clock.time()) == pytest.approx(20.0)
    clock.advance(15)
    assert retry_after_s({"Retry-After": http_date(NOW + 20)}, clock.time()) == pytest.approx(5.0)
    clock.advance(60)  # the date is now in the past: "retry now", never negative
    assert retry_after_s({"Retry-After": http_date(NOW + 20)}, clock.time()) == 0.0
    naive = email.utils.formatdate(NOW + 30).replace("+0000", "-0000")  # "-0000" zone: GMT all the same
    assert retry_after_s({"Retry-After": naive}, NOW) == pytest.approx(30.0)


def test_retry_after_is_clamped_to_the_cap() -> None:
    assert retry_after_s({"Retry-After": "600"}, NOW, cap_s=60.0) == 60.0
    assert retry_after_s({"retry-after-ms": "90000"}, NOW, cap_s=60.0) == 60.0
    assert retry_after_s({"Retry-After": http_date(NOW + 3600)}, NOW, cap_s=30.0) == 30.0
    assert retry_after_s({"Retry-After": http_date(NOW - 3600)}, NOW, cap_s=30.0) == 0.0
    assert retry_after_s({"Retry-After": "12"}, NOW, cap_s=60.0) == 12.0


def test_clamp_and_body_milliseconds() -> None:
    assert clamp(-1.0) == 0.0 and clamp(5.0, 2.0) == 2.0 and clamp(5.0) == 5.0
    assert seconds_from_ms(250) == 0.25 and seconds_from_ms("500") == 0.5
    assert seconds_from_ms(-10) == 0.0 and seconds_from_ms(120_000, cap_s=30) == 30.0
    assert seconds_from_ms(True) is None and seconds_from_ms(None) is None and seconds_from_ms("x") is None
