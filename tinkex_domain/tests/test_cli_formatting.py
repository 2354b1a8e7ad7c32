"""CLI helpers: human formatting, tables, pagination and error messages (no server)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest

from pristine_core.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    ValidationError,
)
from tinkex_domain.cli import friendly_error, main
from tinkex_domain.cli.formatting import (
    format_datetime,
    format_expiration,
    format_lora,
    format_size,
    format_status,
    paginate,
    render_properties,
    render_table,
)

NOW = dt.datetime(2026, 3, 15, 12, 0, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("size", "text"),
    [(None, "N/A"), (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536 * 1024, "1.5 MB"),
     (3 * 1024**3, "3.0 GB"), (2 * 1024**4, "2.0 TB"), (5 * 1024**5, "5120.0 TB")],
)
def test_format_size(size: int | None, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (dt.timedelta(seconds=30), "just now"),
        (dt.timedelta(minutes=1), "1 minute ago"),
        (dt.timedelta(minutes=5, seconds=10), "5 minutes ago"),
        (dt.timedelta(hours=1), "1 hour ago"),
        (dt.timedelta(days=3, hours=2), "3 days ago"),
        (dt.timedelta(days=15), "2 weeks ago"),
        (dt.timedelta(days=45), "2026-01-29"),
        (-dt.timedelta(hours=2), "in 2 hours"),
        (-dt.timedelta(seconds=20), "in less than a minute"),
    ],
)
def test_format_datetime_is_relative(delta: dt.timedelta, text: str) -> None:
    when = (NOW - delta).isoformat().replace("+00:00", "Z")
    assert format_datetime(when, NOW) == text


def test_format_datetime_edge_values() -> None:
    assert format_datetime(None, NOW) == "N/A"
    assert format_datetime("last tuesday", NOW) == "last tuesday"
    assert format_datetime("2026-03-15T11:00:00", NOW) == "1 hour ago"  # naive = UTC
    assert format_expiration(None, NOW) == "Never"
    assert format_expiration("2026-03-16T12:00:00Z", NOW) == "in 1 day"


def test_lora_and_status_labels() -> None:
    assert format_lora(True, 8) == "Yes (rank 8)"
    assert format_lora(True, None) == "Yes"
    assert format_lora(False, 8) == "No"
    assert format_status(True) == "Failed" and format_status(False) == "Active"


def test_tables_and_properties_align() -> None:
    table = render_table(("A", "Long header"), [("x", 1), ("wide value", None)])
    assert table.splitlines() == [
        "A           Long header",
        "----------  -----------",
        "x           1",
        "wide value",
    ]
    assert render_properties([("Name", "n"), ("Longer name", 3)]).splitlines() == ["Name:        n", "Longer name: 3"]


class Pages:
    """A listing of ``total`` numbered items; records each request."""

    def __init__(self, total: int, report_total: bool = True) -> None:
        self.total, self.report_total = total, report_total
        self.requests: list[tuple[int, int]] = []

    def __call__(self, limit: int, offset: int) -> tuple[list[Any], int | None]:
        self.requests.append((limit, offset))
        return list(range(offset, min(offset + limit, self.total))), self.total if self.report_total else None


def test_paginate_limit_zero_fetches_everything_with_progress() -> None:
    pages, progress = Pages(25), io.StringIO()
    items, total = paginate(pages, limit=0, offset=0, page_size=10, label="things", progress=progress)
    assert items == list(range(25)) and total == 25
    assert pages.requests == [(10, 0), (10, 10), (10, 20)]
    assert progress.getvalue().splitlines() == [f"Fetching things: {n}/25" for n in (10, 20, 25)]


def test_paginate_stops_at_the_limit_and_honours_the_offset() -> None:
    pages = Pages(100)
    items, _ = paginate(pages, limit=15, offset=5, page_size=10, label="x", progress=io.StringIO())
    assert items == list(range(5, 20)) and pages.requests == [(10, 5), (5, 15)]
    one, progress = Pages(100), io.StringIO()
    assert paginate(one, limit=3, offset=0, page_size=10, label="x", progress=progress)[0] == [0, 1, 2]
    assert progress.getvalue() == ""  # a single page prints no progress


def test_paginate_without_a_total_stops_at_a_short_page() -> None:
    pages = Pages(12, report_total=False)
    items, total = paginate(pages, limit=0, offset=0, page_size=5, label="x", progress=io.StringIO())
    assert items == list(range(12)) and total is None and len(pages.requests) == 3


@pytest.mark.parametrize(
    ("error", "start"),
    [
        (NotFoundError("gone", status_code=404, body=None), "not found"),
        (AuthenticationError("no", status_code=401, body=None), "authentication failed"),
        (RateLimitError("slow", status_code=429, body=None), "rate limited"),
        (InternalServerError("oops", status_code=500, body=None), "internal server error (status 500)"),
        (APITimeoutError("slow"), "request timed out"),
        (APIConnectionError("refused"), "connection failed"),
        (ValidationError([("ttl", "must be positive")]), "invalid input: ttl: must be positive"),
    ],
)
def test_friendly_errors(error: Exception, start: str) -> None:
    assert friendly_error(error).startswith(start)


def test_errors_exit_1_with_a_message_on_stderr() -> None:
    def unreachable(*args: Any) -> Any:
        raise APIConnectionError("connection refused")

    out, err = io.StringIO(), io.StringIO()
    code = main(["run", "list", "--api-key", "tml-secret-key"], stdout=out, stderr=err, service_factory=unreachable)
    assert code == 1 and out.getvalue() == ""
    assert err.getvalue().startswith("Error: connection failed")
    assert "tml-secret-key" not in err.getvalue()


def test_help_usage_errors_and_version() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main([], stdout=out, stderr=err) == 0 and "checkpoint" in out.getvalue()
    assert main(["checkpoint"], stdout=out, stderr=err) == 2 and "usage:" in err.getvalue()
    assert main(["checkpoint", "set-ttl", "tinker://r/weights/a"], stdout=out, stderr=err) == 2
    assert main(["checkpoint", "set-ttl", "tinker://r/weights/a", "--ttl", "5", "--remove"], stdout=out,
                stderr=err) == 2
    out = io.StringIO()
    assert main(["--version"], stdout=out) == 0 and out.getvalue().startswith("tinkex ")
    out = io.StringIO()
    assert main(["version", "--format", "json"], stdout=out) == 0
    assert '"version"' in out.getvalue() and '"commit"' in out.getvalue()


def test_the_emulator_commands_are_mounted() -> None:
    out = io.StringIO()
    assert main(["emulator", "serve", "--help"], stdout=out) == 0
    assert "--faults" in out.getvalue() and "--port" in out.getvalue()


def test_paginate_past_the_end_returns_nothing() -> None:
    pages = Pages(5)
    items, total = paginate(pages, limit=0, offset=10, page_size=10, label="x", progress=io.StringIO())
    assert items == [] and total == 5
