"""Human formatting for the ``tinkex`` CLI: sizes, relative times, tables, pagination."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

import attrs

_UNITS = ("B", "KB", "MB", "GB", "TB")


def format_size(size: int | None) -> str:
    """Bytes in 1024-based units with one decimal above bytes; None → ``N/A``."""
    if size is None:
        return "N/A"
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def format_datetime(value: str | dt.datetime | None, now: dt.datetime | None = None) -> str:
    """A timestamp relative to ``now``: ``just now``, ``3 hours ago``, ``in 2 days``; beyond 30
    days the date (``YYYY-MM-DD``); unparsable strings as they are; None → ``N/A``."""
    if value is None:
        return "N/A"
    from tinkex_domain.types.rest import parse_time  # the types package is heavy; only when needed

    when = value if isinstance(value, dt.datetime) else parse_time(value)
    if when is None:
        return str(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    seconds = (now - when).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        return "in less than a minute" if future else "just now"
    if seconds > 30 * 86400:
        return when.date().isoformat()
    for limit, size, unit in ((3600, 60, "minute"), (86400, 3600, "hour"), (7 * 86400, 86400, "day")):
        if seconds < limit:
            text = _plural(int(seconds // size), unit)
            break
    else:
        text = _plural(int(seconds // (7 * 86400)), "week")
    return f"in {text}" if future else f"{text} ago"


def format_expiration(value: str | None, now: dt.datetime | None = None) -> str:
    """``Never`` for no expiry, else the relative time."""
    return "Never" if not value else format_datetime(value, now)


def format_lora(is_lora: bool | None, rank: int | None) -> str:
    """``Yes (rank N)``, ``Yes`` or ``No``."""
    if not is_lora:
        return "No"
    return f"Yes (rank {rank})" if rank else "Yes"


def format_status(corrupted: bool | None) -> str:
    """``Failed`` for a corrupted run, else ``Active``."""
    return "Failed" if corrupted else "Active"


def to_map(value: Any) -> Any:
    """An attrs object (recursively) as plain JSON-ready data."""
    if attrs.has(type(value)):
        return {f.name: to_map(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, dict):
        return {str(k): to_map(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_map(v) for v in value]
    return value


def checkpoint_to_map(checkpoint: Any) -> dict[str, Any]:
    """A Checkpoint as a dict; the run id is derived from the path when missing."""
    data: dict[str, Any] = to_map(checkpoint)
    if not data.get("training_run_id") and str(data.get("tinker_path", "")).startswith("tinker://"):
        data["training_run_id"] = data["tinker_path"][len("tinker://") :].split("/", 1)[0]
    return data


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces, with a dashed rule under the header."""
    cells = [[str(h) for h in headers]] + [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_properties(pairs: Iterable[tuple[str, Any]]) -> str:
    """``Name: value`` lines, names padded to one width."""
    items = [(k, "" if v is None else str(v)) for k, v in pairs]
    width = max((len(k) for k, _ in items), default=0) + 1
    return "\n".join(f"{(k + ':').ljust(width)} {v}".rstrip() for k, v in items)


def dump_json(data: Any) -> str:
    """Indented JSON (objects that JSON cannot hold are shown as strings)."""
    return json.dumps(to_map(data), indent=2, default=str)


#: ``fetch(limit, offset) -> (items, total or None)``.
PageFetch = Callable[[int, int], tuple[list[Any], int | None]]


def paginate(
    fetch: PageFetch, *, limit: int, offset: int, page_size: int, label: str, progress: TextIO | None = None
) -> tuple[list[Any], int | None]:
    """Collect up to ``limit`` items (0 = all) from ``offset`` in pages of ``page_size``.

    Stops at the limit, at the reported total, or at a short page; prints
    ``Fetching <label>: x/y`` to ``progress`` after each page when more than one is needed.
    """
    items: list[Any] = []
    total: int | None = None
    cursor = offset
    while True:
        want = page_size if limit == 0 else min(page_size, limit - len(items))
        page, total = fetch(want, cursor)
        items.extend(page)
        cursor += len(page)
        target: int | None = None if limit == 0 else limit
        if total is not None:
            remaining = max(total - offset, 0)
            target = remaining if target is None else min(target, remaining)
        done = not page or len(page) < want or (target is not None and len(items) >= target)
        if progress is not None and (not done or cursor - offset > page_size):
            shown_total = target if target is not None else "?"
            print(f"Fetching {label}: {len(items)}/{shown_total}", file=progress)
        if done:
            return (items[:target] if target is not None else items), total
