"""The reply table: typed rules saying what each retrieve reply means (``features.futures.replies``).

A rule is ``{"when": [conditions...], "then": outcome, ...outcome keys}``. The poller tries the
rules in order against each retrieve reply (or transport error) and acts on the first that
matches; the built-in :data:`DEFAULT_REPLIES` follow the manifest's rules unless the block sets
``"default_replies": false``. The README documents every key with examples.

Conditions (all of a rule's conditions must hold; no conditions: always matches). Each one has
exactly one subject:

* ``status``: a code (``429``), a class (``"5xx"``) or a list of them;
* ``error``: ``"connection"`` (a retryable transport error, timeouts included) or ``"timeout"``;
* ``content_type``: a media type (``"text/csv"``, ``"text/*"``), compared without parameters;
* ``path``: a JSON path (``"error.message"``, ``"items.0.id"``; ``""`` is the body) tested with
  ``equals``, ``one_of`` or ``present`` (default: present and not null); ``ignore_case`` trims and
  lower-cases strings before comparing;
* ``header``: a header name, tested like ``path``;
* ``text``: the body (or a JSON string body) trimmed and lower-cased is one of these texts;
* ``blank``: the body is a JSON object in which none of these paths holds non-blank text;
* ``setting``: a boolean key of the futures settings is true (e.g. ``poll_backoff``).
"""

from __future__ import annotations

import re
from typing import Any, Literal

import attrs

from pristine_core.contract import settings

#: Outcomes a rule can have.
Outcome = Literal["success", "failure", "retry", "expired", "fetch", "status_error"]

#: ``equals`` when the rule does not give one.
UNSET: Any = type("Unset", (), {"__repr__": lambda self: "UNSET"})()

_STATUS_CLASS = re.compile(r"^[1-5]xx$")
_SUBJECTS = ("status", "error", "content_type", "path", "header", "text", "blank", "setting")


def _fail(name: str, message: str) -> None:
    raise ValueError(f"'{name}' {message}")


def _statuses(_: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    items = value if isinstance(value, tuple) else (value,)
    for item in items if value is not None else ():
        if isinstance(item, bool) or not (
            (isinstance(item, int) and 100 <= item <= 599) or (isinstance(item, str) and _STATUS_CLASS.match(item))
        ):
            _fail(attribute.name, f'must be status codes (404) or classes ("4xx"), got {item!r}')
    if isinstance(value, tuple) and not value:
        _fail(attribute.name, "must not be empty")


def _whole(message: str) -> None:
    """A problem of the whole rule or condition (reported at its path, not at one key)."""
    raise ValueError(message)


def _one_subject(instance: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    if instance is None:  # the converter re-runs field validators alone; this one needs the object
        return
    given = [name for name in _SUBJECTS if getattr(instance, name) is not None]
    if len(given) != 1:
        _whole(f"a condition needs exactly one of {', '.join(_SUBJECTS)}; got {given or 'none'}")
    unset = {"equals": UNSET, "one_of": None, "present": None}
    tests = [name for name, nothing in unset.items() if getattr(instance, name) is not nothing]
    if tests and given[0] not in ("path", "header"):
        _whole(f"{', '.join(tests)} only apply to path or header conditions")
    if len(tests) > 1:
        _whole(f"give one of equals, one_of, present (got {', '.join(tests)})")


@settings
class Condition:
    """One test on a retrieve reply; see the module docstring for each subject."""

    status: int | str | tuple[int | str, ...] | None = attrs.field(default=None, validator=_statuses)
    error: Literal["connection", "timeout"] | None = None
    content_type: str | None = None
    path: str | None = None
    header: str | None = None
    text: tuple[str, ...] | None = None
    blank: tuple[str, ...] | None = None
    setting: str | None = None
    equals: Any = UNSET
    one_of: tuple[Any, ...] | None = None
    present: bool | None = None
    ignore_case: bool = attrs.field(default=False, validator=_one_subject)


def _paths(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _outcome_keys(instance: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    if instance is None:  # the converter re-runs field validators alone; this one needs the object
        return
    then = instance.then
    only = {
        "result": ("success",),
        "size": ("fetch",),
        "backoff": ("retry",),
        "delay_ms_path": ("retry",),
    }
    for key, outcomes in only.items():
        if getattr(instance, key) not in (None, False) and then not in outcomes:
            _whole(f"'{key}' only applies to then: {' or '.join(outcomes)}")
    if instance.delay_s not in (0, 0.0) and then != "retry":
        _whole("'delay_s' only applies to then: retry")
    for key in ("message", "category"):
        if getattr(instance, key) is not None and then != "failure":
            _whole(f"'{key}' only applies to then: failure")
    if then == "fetch" and instance.size is None:
        _whole("then: fetch needs 'size', the JSON path of the payload size")
    if instance.backoff and instance.delay_s not in (0, 0.0):
        _whole("give 'backoff' or 'delay_s', not both")
    if isinstance(instance.delay_s, (int, float)) and instance.delay_s < 0:
        _whole("'delay_s' must be >= 0")
    if isinstance(instance.limit, int) and instance.limit < 0:
        _whole("'limit' must be >= 0")


@settings
class ReplyRule:
    """``when`` these conditions hold, ``then`` do this (with the outcome's keys).

    * ``success``: the result is the value at ``result`` (a JSON path; default: the whole body).
      A body that is not JSON goes through the ``pristine_decode_result`` hook.
    * ``failure``: :class:`~pristine_core.errors.RequestFailedError` with the first text found at
      the ``message`` paths and the ``category`` at the ``category`` paths.
    * ``retry``: poll again after ``delay_s`` (seconds, or the name of a numeric futures setting
      such as ``pending_delay_s``), or after the milliseconds at ``delay_ms_path`` when the reply
      has them, or, with ``backoff``, after ``backoff_base_s * 2**n`` capped by ``backoff_cap_s``
      where n counts the streak.
    * ``expired``: :class:`~pristine_plugins.futures.errors.PromiseExpiredError` (resubmit).
    * ``fetch``: two-phase result: reserve the byte size at ``size`` from the response budget,
      then poll again without ``allow_metadata_only``.
    * ``status_error``: the status error the core maps the reply's status to.

    ``streak`` names a run of consecutive replies matched by rules sharing that name (default:
    this rule alone); any reply matched by another rule ends it. ``limit`` (a number, or the
    name of an integer futures setting such as ``max_blank_400s``) stops the rule matching once
    its streak is that long, so later rules decide. ``queue_state`` / ``queue_state_reason`` are
    JSON paths whose values are reported to the queue-state observer, whatever the outcome.
    ``name`` labels the rule in events.
    """

    then: Outcome
    when: tuple[Condition, ...] = ()
    result: str | None = None
    message: str | tuple[str, ...] | None = None
    category: str | tuple[str, ...] | None = None
    delay_s: float | str = 0.0
    delay_ms_path: str | None = None
    backoff: bool = False
    size: str | None = None
    limit: int | str | None = None
    streak: str | None = None
    queue_state: str | None = None
    queue_state_reason: str | None = None
    name: str | None = attrs.field(default=None, validator=_outcome_keys)

    @property
    def message_paths(self) -> tuple[str, ...]:
        """Where to look for the failure message, in order."""
        return _paths(self.message) or ("error.message", "error", "message")

    @property
    def category_paths(self) -> tuple[str, ...]:
        """Where to look for the failure category, in order."""
        return _paths(self.category) or ("error.category", "category")


def _rule(then: str, *when: dict[str, Any], **keys: Any) -> ReplyRule:
    return ReplyRule(then=then, when=tuple(Condition(**c) for c in when), **keys)  # type: ignore[arg-type]


#: Rules every table ends with unless ``default_replies`` is false: plain HTTP semantics.
DEFAULT_REPLIES: tuple[ReplyRule, ...] = (
    _rule("retry", {"error": "connection"}, backoff=True, streak="transport", name="transport error"),
    _rule("retry", {"status": 429}, backoff=True, streak="transport", name="rate limited"),
    _rule(
        "retry", {"status": (408, "5xx")}, {"setting": "poll_backoff"}, backoff=True, streak="slow", name="server busy"
    ),
    _rule("retry", {"status": (408, "5xx")}, name="server busy"),
    _rule("expired", {"status": 410}, name="expired"),
    _rule("status_error", {"status": ("3xx", "4xx", "5xx")}, name="error status"),
    _rule("success", name="result"),
)


def setting_problems(rules: tuple[ReplyRule, ...], where: str, numbers: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems of rule keys that name futures settings (``delay_s``, ``limit``, ``setting``).

    ``numbers`` maps each futures setting to its value; a named setting must exist and have the
    right kind of value.
    """
    problems: list[tuple[str, str]] = []
    for i, rule in enumerate(rules):
        at = f"{where}[{i}]"
        if isinstance(rule.delay_s, str) and not _is_number(numbers.get(rule.delay_s, None)):
            problems.append((f"{at}.delay_s", f"names no numeric futures setting: {rule.delay_s!r}"))
        if isinstance(rule.limit, str) and not _is_int(numbers.get(rule.limit, None)):
            problems.append((f"{at}.limit", f"names no integer futures setting: {rule.limit!r}"))
        for j, condition in enumerate(rule.when):
            if condition.setting is not None and not isinstance(numbers.get(condition.setting), bool):
                problems.append((f"{at}.when[{j}].setting", f"names no boolean futures setting: {condition.setting!r}"))
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
