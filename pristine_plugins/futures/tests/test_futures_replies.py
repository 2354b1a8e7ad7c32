"""The reply table: validation with JSON paths, each condition kind, streaks and limits, defaults."""

from __future__ import annotations

from typing import Any

import pytest

from pristine_core import APIResponseValidationError, Client, ManifestError, NotFoundError, ValidationError
from pristine_core.pipeline import Response
from pristine_plugins.futures import FuturesPlugin
from pristine_plugins.futures.matching import MISSING, Matcher, ReplyView, condition_holds, json_path
from pristine_plugins.futures.replies import DEFAULT_REPLIES, Condition, ReplyRule
from pristine_testing import Reply, json_reply

from .conftest import manifest


def problems(replies: list[dict[str, Any]], **block: Any) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as caught:
        Client(manifest(replies=replies, **block), plugins=[FuturesPlugin()], autoload_plugins=False, api_key="k")
    return caught.value.problems


@pytest.mark.parametrize(
    ("rules", "path", "text"),
    [
        ([{"then": "retry", "when": [{"status": "6xx"}]}], "features.futures.replies[0].when[0].status", "6xx"),
        ([{"then": "success"}, {"then": "fetch"}], "features.futures.replies[1]", "needs 'size'"),
        (
            [{"then": "success", "when": [{"path": "a", "status": 200}]}],
            "features.futures.replies[0].when[0]",
            "exactly one of",
        ),
        (
            [{"then": "success", "when": [{"status": 200, "equals": 3}]}],
            "features.futures.replies[0].when[0]",
            "only apply to path or header",
        ),
        ([{"then": "retry", "delay_s": "no_such_key"}], "features.futures.replies[0].delay_s", "no_such_key"),
        ([{"then": "retry", "limit": "poll_backoff"}], "features.futures.replies[0].limit", "integer"),
        (
            [{"then": "retry", "when": [{"setting": "max_workers"}]}],
            "features.futures.replies[0].when[0].setting",
            "boolean",
        ),
        ([{"then": "explode"}], "features.futures.replies[0].then", "expected one of"),
        ([{"then": "retry", "when": [{"paht": "a"}]}], "features.futures.replies[0].when[0].paht", "'path'"),
        ([{"then": "success", "delay_s": 1}], "features.futures.replies[0].delay_s", "only applies to then: retry"),
        ([{"then": "retry", "message": "m"}], "features.futures.replies[0].message", "only applies to then: failure"),
    ],
)
def test_a_bad_rule_is_reported_at_its_json_path(rules, path, text):
    found = problems(rules)
    assert any(p == path and text in m for p, m in found), found


def test_a_bad_request_id_pattern_and_client_override_are_rejected():
    assert any(p == "features.futures.request_id_pattern" for p, _ in problems([], request_id_pattern="(a)(b)"))
    with pytest.raises(ValidationError) as caught:
        Client(
            manifest(),
            plugins=[FuturesPlugin()],
            autoload_plugins=False,
            api_key="k",
            config={"futures": {"replies": [{"then": "retry", "delay_s": "nope"}]}},
        )
    assert caught.value.errors[0][0] == "config.futures.replies[0].delay_s"


def test_json_paths():
    data = {"a": {"b": [10, {"c": None}]}}
    assert json_path(data, "a.b.0") == 10
    assert json_path(data, "a.b.-1.c") is None
    assert json_path(data, "a.b.2") is MISSING
    assert json_path(data, "a.x") is MISSING
    assert json_path(data, "") is data


def reply(status: int, body: bytes, headers: dict[str, str]) -> Response:
    return Response(status, headers, body)


def cond(**keys: Any) -> Condition:
    return Condition(**keys)


def test_conditions_on_a_reply():
    view = ReplyView(
        reply(201, b'{"State": " Done ", "n": null}', {"Content-Type": "application/json; x=1", "Location": "/jobs/7"})
    )
    flags = {"poll_backoff": False}
    holds = [
        cond(status=201),
        cond(status="2xx"),
        cond(status=(404, "2xx")),
        cond(content_type="application/json"),
        cond(content_type="application/*"),
        cond(path="State", equals="done", ignore_case=True),
        cond(path="State", one_of=("x", " Done ")),
        cond(path="n", present=False),
        cond(path="missing", present=False),
        cond(path="State"),
        cond(header="location", equals="/jobs/7"),
        cond(blank=("message", "error")),
    ]
    fails = [
        cond(status=200),
        cond(status="4xx"),
        cond(content_type="text/csv"),
        cond(path="State", equals="done"),
        cond(path="n"),
        cond(header="Retry-After"),
        cond(blank=("State",)),
        cond(error="connection"),
        cond(setting="poll_backoff"),
        cond(text=("",)),
    ]
    assert [c for c in holds if not condition_holds(c, view, flags)] == []
    assert [c for c in fails if condition_holds(c, view, flags)] == []


def test_text_and_error_conditions():
    from pristine_core import APIConnectionError, APITimeoutError

    blank = ("", "http 400", "null", "{}")
    for body in (b"", b"  HTTP 400 ", b'"http 400"', b"null", b"{}"):
        assert condition_holds(cond(text=blank), ReplyView(reply(400, body, {})), {}), body
    assert not condition_holds(cond(text=blank), ReplyView(reply(400, b'{"detail": "x"}', {})), {})
    timeout = ReplyView(error=APITimeoutError("slow"))
    assert condition_holds(cond(error="timeout"), timeout, {})
    assert condition_holds(cond(error="connection"), timeout, {})
    refused = ReplyView(error=APIConnectionError("refused"))
    assert not condition_holds(cond(error="timeout"), refused, {})
    assert not condition_holds(cond(status="2xx"), refused, {})


def test_streaks_limits_and_the_first_match():
    rules = (
        ReplyRule(then="retry", when=(Condition(status=400),), streak="s", limit=2),
        ReplyRule(then="retry", when=(Condition(status=400), Condition(path="x")), streak="s"),
        ReplyRule(then="status_error", when=(Condition(status="4xx"),)),
        ReplyRule(then="success"),
    )
    matcher = Matcher(rules, {})
    bad, bad_x, ok = (reply(400, b"{}", {}), reply(400, b'{"x": 1}', {}), reply(200, b"1", {}))

    def step(response: Any) -> tuple[str, int] | None:
        found = matcher.match(ReplyView(response))
        return None if found is None else (found[0].then, found[1])

    assert [step(bad), step(bad), step(bad)] == [("retry", 0), ("retry", 1), ("status_error", 0)]
    assert step(ok) == ("success", 0)
    assert [step(bad), step(bad_x), step(bad_x)] == [("retry", 0), ("retry", 1), ("retry", 2)]
    assert Matcher((), {}).match(ReplyView(ok)) is None


def test_the_defaults_follow_the_manifest_rules():
    client = Client(
        manifest(replies=[{"then": "success", "when": [{"path": "done"}], "result": "done"}], default_replies=True),
        plugins=[FuturesPlugin()],
        autoload_plugins=False,
        api_key="k",
    )
    try:
        table = client.meta.plugin("futures").settings.reply_table
        assert table[1:] == DEFAULT_REPLIES and table[0].result == "done"
    finally:
        client.close()


def test_short_table_with_defaults_end_to_end(future_server, make_client):
    client = make_client(
        future_server.url,
        futures={
            "default_replies": True,
            "replies": [{"when": [{"path": "phase", "equals": "busy"}], "then": "retry", "delay_s": 0}],
        },
    )
    future_server.script("r1", json_reply({"phase": "busy"}), Reply(502), json_reply({"value": 3}))
    future_server.script("r2", json_reply({"detail": "gone away"}, 404))
    assert client.jobs.submit(x=1).result(timeout=10).value == 3
    with pytest.raises(NotFoundError):
        client.jobs.submit(x=1).result(timeout=10)


def test_no_matching_rule_is_a_typed_error(future_server, make_client):
    client = make_client(
        future_server.url,
        futures={
            "default_replies": False,
            "replies": [
                {"when": [{"path": "value"}], "then": "success"},
            ],
        },
    )
    future_server.script("r1", json_reply({"other": 1}))
    with pytest.raises(APIResponseValidationError, match=r"no rule of features\.futures\.replies"):
        client.jobs.submit(x=1).result(timeout=10)


def test_a_missing_result_path_is_a_typed_error(future_server, make_client):
    client = make_client(
        future_server.url,
        futures={
            "default_replies": False,
            "replies": [
                {"then": "success", "result": "payload.value"},
            ],
        },
    )
    future_server.script("r1", json_reply({"payload": {}}))
    with pytest.raises(APIResponseValidationError, match=r"payload\.value"):
        client.jobs.submit_untyped(x=1).result(timeout=10)


def test_the_plugin_code_holds_no_api_protocol():
    """Tinker's reply vocabulary lives in manifests (Tinkex's, and this folder's tests), never in
    the plugin's code."""
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent
    words = ("try_again", "complete_metadata", "response_payload_size", "retry_after_ms", "_is_blank")
    found = {(path.name, word) for path in package.glob("*.py") for word in words if word in path.read_text("utf-8")}
    assert found == set()
