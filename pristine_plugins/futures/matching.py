"""Matching retrieve replies against the reply table: JSON paths, a view of one reply, streaks.

:class:`ReplyView` is what the rules see of one retrieve reply (or of a transport error);
:class:`Matcher` keeps the streak counts of one future and picks the first rule that matches.
Nothing here knows any API: the rules come from the manifest (:mod:`.replies`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pristine_core.errors import APIConnectionError, APITimeoutError
from pristine_core.pipeline import Response
from pristine_plugins.futures.replies import UNSET, Condition, ReplyRule

#: A JSON path that is absent from the body.
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

_NOT_JSON: Any = object()


def json_path(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``"a.b"``, ``"items.0.id"``; ``""`` is ``data``), or MISSING."""
    if path in ("", "$"):
        return data
    value = data
    for part in path.split("."):
        if isinstance(value, Mapping):
            if part not in value:
                return MISSING
            value = value[part]
        elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(value) <= index < len(value):
                return MISSING
            value = value[index]
        else:
            return MISSING
    return value


class ReplyView:
    """One retrieve reply as the rules see it: status, headers, media type and (lazily) JSON.

    Built from a :class:`~pristine_core.pipeline.Response`, from already-parsed data (a submit
    reply), or from a transport error (then only ``error`` conditions can match).
    """

    def __init__(
        self,
        response: Response | None = None,
        *,
        data: Any = _NOT_JSON,
        status: int = 200,
        error: BaseException | None = None,
    ) -> None:
        self.response = response
        self.error = error
        self.status = response.status_code if response is not None else status
        self._data = data

    @property
    def is_error(self) -> bool:
        """True when this view stands for a transport error, not a reply."""
        return self.error is not None

    @property
    def media_type(self) -> str:
        """The reply's content type without parameters, lower-cased ('' when none)."""
        if self.response is None:
            return "application/json" if self._data is not _NOT_JSON else ""
        return str(self.response.headers.get("content-type", "")).split(";", 1)[0].strip().lower()

    def header(self, name: str) -> Any:
        """A header's value, or MISSING."""
        if self.response is None:
            return MISSING
        value = self.response.headers.get(name)
        return MISSING if value is None else value

    @property
    def text(self) -> str:
        """The body as text ('' without a response)."""
        if self.response is None:
            return ""
        try:
            return self.response.text
        except UnicodeDecodeError:
            return ""

    @property
    def data(self) -> Any:
        """The JSON body, or MISSING when the body is not JSON."""
        if self._data is _NOT_JSON and self.response is not None:
            try:
                self._data = self.response.json()
            except (ValueError, UnicodeDecodeError):
                self._data = MISSING
        return MISSING if self._data is _NOT_JSON else self._data

    @property
    def is_json(self) -> bool:
        """True when the body parsed as JSON."""
        return self.data is not MISSING


def _status_matches(spec: Any, status: int) -> bool:
    items = spec if isinstance(spec, tuple) else (spec,)
    for item in items:
        if isinstance(item, int) and item == status:
            return True
        if isinstance(item, str) and str(status)[0] == item[0]:
            return True
    return False


def _norm(value: Any, ignore_case: bool) -> Any:
    return value.strip().lower() if ignore_case and isinstance(value, str) else value


def _value_test(condition: Condition, value: Any) -> bool:
    if condition.equals is not UNSET:
        return value is not MISSING and _norm(value, condition.ignore_case) == _norm(
            condition.equals, condition.ignore_case
        )
    if condition.one_of is not None:
        wanted = [_norm(v, condition.ignore_case) for v in condition.one_of]
        return value is not MISSING and _norm(value, condition.ignore_case) in wanted
    present = value is not MISSING and value is not None
    return present is (True if condition.present is None else condition.present)


def _blank(data: Any, paths: tuple[str, ...]) -> bool:
    if not isinstance(data, Mapping):
        return False
    for path in paths:
        value = json_path(data, path)
        if isinstance(value, str) and value.strip():
            return False
    return True


def _media_matches(wanted: str, actual: str) -> bool:
    wanted = wanted.strip().lower()
    if wanted.endswith("/*"):
        return actual.startswith(wanted[:-1])
    return actual == wanted


def condition_holds(condition: Condition, view: ReplyView, flags: Mapping[str, Any]) -> bool:
    """Whether one condition holds for ``view``; ``flags`` are the futures settings by name."""
    if condition.setting is not None:
        return flags.get(condition.setting) is True
    if condition.error is not None:
        if view.error is None:
            return False
        if condition.error == "timeout":
            return isinstance(view.error, APITimeoutError)
        return isinstance(view.error, APIConnectionError) and bool(view.error.retryable)
    if view.is_error:
        return False
    if condition.status is not None:
        return _status_matches(condition.status, view.status)
    if condition.content_type is not None:
        return _media_matches(condition.content_type, view.media_type)
    if condition.header is not None:
        return _value_test(condition, view.header(condition.header))
    if condition.path is not None:
        data = view.data
        return _value_test(condition, MISSING if data is MISSING else json_path(data, condition.path))
    if condition.text is not None:
        data = view.data
        text = data if isinstance(data, str) else view.text
        if data is None:
            text = "null"
        return text.strip().lower() in {t.strip().lower() for t in condition.text}
    if condition.blank is not None:
        return _blank(view.data, condition.blank)
    return False


class Matcher:
    """The first matching rule for each reply of one future, with its streak counts.

    A streak is a run of consecutive replies matched by rules sharing a ``streak`` name (a rule
    without one has its own); a reply matched by any other rule ends every other streak.
    """

    def __init__(self, rules: tuple[ReplyRule, ...], flags: Mapping[str, Any]) -> None:
        self.rules = rules
        self.flags = flags
        self.streaks: dict[str, int] = {}

    def _key(self, index: int) -> str:
        rule = self.rules[index]
        return rule.streak if rule.streak is not None else f"#{index}"

    def _limit(self, rule: ReplyRule) -> int | None:
        if rule.limit is None:
            return None
        limit = self.flags.get(rule.limit) if isinstance(rule.limit, str) else rule.limit
        return int(limit) if isinstance(limit, int) else None

    def match(self, view: ReplyView) -> tuple[ReplyRule, int] | None:
        """The first rule that matches ``view`` and the streak length *before* this reply
        (0 for the first reply of a streak); None when no rule matches. Updates the streaks."""
        for index, rule in enumerate(self.rules):
            key = self._key(index)
            limit = self._limit(rule)
            if limit is not None and self.streaks.get(key, 0) >= limit:
                continue
            if all(condition_holds(c, view, self.flags) for c in rule.when):
                before = self.streaks.get(key, 0)
                self.streaks = {key: before + 1}
                return rule, before
        self.streaks = {}
        return None
