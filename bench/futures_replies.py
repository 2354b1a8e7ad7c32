"""Cost of interpreting one retrieve reply with Tinkex's reply table (``features.futures.replies``).

For three typical replies (a ``try_again``, a result that only the last rule matches, a 429), the
time to match the reply against the 17 rules of ``manifest.json`` (JSON parse included) against
the baseline of ``json.loads`` of the same body alone, both measured in this run. The point is
that the table costs microseconds next to a poll's milliseconds of HTTP.

    python bench/futures_replies.py [--replies 20000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from pristine_core.contract import structure_as
from pristine_core.pipeline import Response
from pristine_plugins.futures.matching import Matcher, ReplyView
from pristine_plugins.futures.replies import ReplyRule
from pristine_plugins.futures.settings import FuturesSettings

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.json"

REPLIES: dict[str, tuple[int, Any]] = {
    "try_again": (200, {"type": "try_again", "request_id": "r1", "queue_state": "active"}),
    "result (last rule)": (200, {"metrics": {"loss:sum": 1.5}, "loss_fn_outputs": [{"i": i} for i in range(20)]}),
    "429": (429, {"detail": "rate limited"}),
}


def _per_call_us(fn: Any, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    """Print µs per reply for matching and for the JSON parse alone, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=20000)
    args = parser.parse_args()
    block = json.loads(MANIFEST.read_text(encoding="utf-8"))["features"]["futures"]
    rules = structure_as(tuple[ReplyRule, ...], block["replies"], "features.futures.replies")
    flags = FuturesSettings().flags
    headers = {"content-type": "application/json"}
    for name, (status, body) in REPLIES.items():
        raw = json.dumps(body).encode()
        match_us = _per_call_us(
            lambda s=status, r=raw: Matcher(rules, flags).match(ReplyView(Response(s, headers, r))), args.replies
        )
        parse_us = _per_call_us(lambda r=raw: json.loads(r), args.replies)
        print(
            f"{name:>20}: match {match_us:6.1f} us/reply, json.loads alone {parse_us:5.1f} us, "
            f"ratio {match_us / parse_us:4.1f}x"
        )
    print(f"rules: {len(rules)}")


if __name__ == "__main__":
    main()
