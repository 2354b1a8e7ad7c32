"""Everything the futures plugin reads, declared as typed settings, and override layering.

Settings come from three layers, each overriding the one before: the manifest's
``features.futures`` block (:class:`FuturesSettings`), the client's ``config["futures"]``
mapping, and (for the per-future keys only) the call's ``futures`` option. Endpoint keys
(:class:`FuturesEndpoint`): ``future``, ``result``, ``request_type``, ``queue_state_label``.
Every layer is checked by the core's converter (JSON paths, "did you mean" suggestions).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.contract import (
    PluginSettings,
    at_least,
    non_empty,
    positive,
    settings,
    with_changes,
)
from pristine_core.errors import ValidationError
from pristine_core.manifest.checks import reference_problems
from pristine_core.manifest.models import Manifest
from pristine_plugins.futures.replies import DEFAULT_REPLIES, ReplyRule, setting_problems

#: Keys that shape one future's polling and may therefore be overridden per call.
PER_FUTURE_KEYS = frozenset(
    {
        "poll_timeout_s",
        "backoff_cap_s",
        "max_blank_400s",
        "iteration_header",
        "request_type_header",
        "roundtrip_header",
        "pending_delay_s",
        "allow_metadata_only",
        "poll_backoff",
        "deadline_s",
        "backoff_base_s",
    }
)


def observer(_: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    """A queue-state observer: a callable ``(state, reason)`` or an object with
    ``on_queue_state_change(state, reason)``."""
    if value is not None and not callable(value) and not callable(getattr(value, "on_queue_state_change", None)):
        raise ValueError(f"'{attribute.name}' must be callable or have on_queue_state_change")


def _pattern(_: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    """A regular expression with at most one group (the id is the group, else the whole match)."""
    if value is None:
        return
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ValueError(f"'{attribute.name}' must be a regular expression ({exc})") from None
    if compiled.groups > 1:
        raise ValueError(f"'{attribute.name}' must have at most one group")


@settings
class FuturesSettings:
    """The ``features.futures`` block (see the README for each key)."""

    retrieve_endpoint: str | None = attrs.field(default=None, validator=non_empty)
    poll_timeout_s: float = attrs.field(default=45.0, validator=positive)
    max_workers: int = attrs.field(default=16, validator=at_least(1))
    submit_workers: int = attrs.field(default=64, validator=at_least(1))
    response_budget_bytes: int = attrs.field(default=5 * 1024 * 1024, validator=at_least(1))
    backoff_cap_s: float = attrs.field(default=30.0, validator=at_least(0))
    max_blank_400s: int = attrs.field(default=3, validator=at_least(0))
    iteration_header: str | None = attrs.field(default=None, validator=non_empty)
    request_type_header: str | None = attrs.field(default=None, validator=non_empty)
    roundtrip_header: str | None = attrs.field(default=None, validator=non_empty)
    request_id_field: str = attrs.field(default="request_id", validator=non_empty)
    allow_metadata_only: bool = True
    pending_delay_s: float = attrs.field(default=1.0, validator=at_least(0))
    close_timeout_s: float = attrs.field(default=5.0, validator=positive)
    poll_backoff: bool = False
    deadline_s: float | None = attrs.field(default=None, validator=positive)
    queue_state_reasons: Mapping[str, Mapping[str, str]] = attrs.Factory(dict)
    replies: tuple[ReplyRule, ...] = ()
    default_replies: bool = True
    backoff_base_s: float = attrs.field(default=1.0, validator=at_least(0))
    request_id_header: str | None = attrs.field(default=None, validator=non_empty)
    request_id_pattern: str | None = attrs.field(default=None, validator=_pattern)
    retrieve_argument: str | None = attrs.field(default=None, validator=non_empty)

    @property
    def reply_table(self) -> tuple[ReplyRule, ...]:
        """The rules in the order they are tried: ``replies``, then the defaults (if kept)."""
        return self.replies + DEFAULT_REPLIES if self.default_replies else self.replies

    @property
    def flags(self) -> dict[str, Any]:
        """Every setting by name (what rules refer to with ``delay_s``, ``limit``, ``setting``)."""
        return {a.name: getattr(self, a.name) for a in attrs.fields(FuturesSettings)}

    def problems(self, where: str) -> list[tuple[str, str]]:
        """Rule keys naming settings that do not exist or have the wrong kind of value."""
        return setting_problems(self.replies, f"{where}.replies", self.flags)

    def with_overrides(
        self, overrides: Mapping[str, Any] | None, *, where: str, allowed: frozenset[str] | None = None
    ) -> FuturesSettings:
        """A copy with ``overrides`` applied; raises :class:`ValidationError` on bad keys or values."""
        if not overrides:
            return self
        if allowed is not None:
            refused = [(f"{where}.{key}", "cannot be overridden per call") for key in overrides if key not in allowed]
            known = attrs.fields_dict(FuturesSettings)
            refused = [(path, message) for path, message in refused if path.rsplit(".", 1)[-1] in known]
            if refused:
                raise ValidationError(refused, "futures settings")
        changed = with_changes(self, overrides, where)
        problems = changed.problems(where)
        if problems:
            raise ValidationError(problems, "futures settings")
        return changed


@settings
class FuturesEndpoint:
    """Per-endpoint keys: ``future`` (the reply is a request id to poll), ``result`` (the type
    the future resolves to), ``request_type`` (header value and log label) and
    ``queue_state_label`` (the queue-state log's label)."""

    future: bool = False
    result: str | None = None
    request_type: str | None = None
    queue_state_label: str | None = None


@settings
class FuturesConfig:
    """``Client(config=...)`` keys: ``futures`` (overrides of the block) and
    ``queue_state_observer`` (called with queue-state changes of every future)."""

    futures: Mapping[str, Any] | None = None
    queue_state_observer: Any = attrs.field(default=None, validator=observer)


@settings
class FuturesOptions:
    """Per-call option keys: ``futures`` (per-future overrides), ``queue_state_observer``,
    ``queue_state_label``, ``queue_state_id`` and ``request_type``."""

    futures: Mapping[str, Any] | None = None
    queue_state_observer: Any = attrs.field(default=None, validator=observer)
    queue_state_label: str | None = None
    queue_state_id: str | None = None
    request_type: str | None = None
    futures_poll: Any = None  # set by the poller on its own retrieve calls (see Poller.stamp)


SETTINGS = PluginSettings(
    sections={"features.futures": FuturesSettings},
    endpoint=FuturesEndpoint,
    config=FuturesConfig,
    options=FuturesOptions,
)


def manifest_problems(manifest: Manifest) -> list[tuple[str, str]]:
    """The block's references, and its presence when an endpoint is declared ``future``."""
    block: FuturesSettings | None = manifest.section("features.futures")
    problems: list[tuple[str, str]] = []
    future_endpoints = []
    for ep in manifest.endpoints():
        keys = ep.settings_of(FuturesEndpoint)
        at = f"resources.{ep.resource}.{ep.name}"
        problems += reference_problems(manifest, f"{at}.result", keys.result, "type")
        if keys.future:
            future_endpoints.append(ep.qualified_name)
        elif keys.result is not None:
            problems.append((f"{at}.result", "only applies to endpoints with future: true"))
    if block is None:
        if future_endpoints:
            problems.append(
                ("features.futures", f"endpoint {future_endpoints[0]} is declared future but the block is missing")
            )
        return problems
    if future_endpoints and block.retrieve_endpoint is None:
        problems.append(("features.futures.retrieve_endpoint", "required when an endpoint is declared future"))
    problems += reference_problems(manifest, "features.futures.retrieve_endpoint", block.retrieve_endpoint, "endpoint")
    problems += block.problems("features.futures")
    return problems


def from_manifest(manifest: Manifest, client_overrides: Mapping[str, Any] | None = None) -> FuturesSettings:
    """Settings for one client: the manifest block, then ``config["futures"]``."""
    settings_: FuturesSettings = manifest.section("features.futures") or FuturesSettings()
    return settings_.with_overrides(client_overrides, where="config.futures")
