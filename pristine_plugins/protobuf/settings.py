"""The plugin's settings, declared through ``pristine_settings``: the ``features.protobuf``
section (:class:`~.spec.ProtobufSchemaSpec`: messages and enums as data; references checked by
:mod:`.schema`), the endpoint keys (:class:`ProtobufEndpoint`), the config key ``protobuf``
(:class:`ProtobufSettings`) and the call options ``protobuf`` / ``protobuf_compression``
(:class:`ProtobufOptions`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from pristine_core.contract import PluginSettings, at_least, settings

from .spec import JsonMapping, ProtobufSchemaSpec

ENCODING = "protobuf"
CONTENT_TYPE = "application/x-protobuf"
COMPRESSIONS = ("zstd",)
#: Call option: per-call compression override (``"zstd"`` or ``"none"``).
COMPRESSION_OPTION = "protobuf_compression"
#: Call option: use protobuf for a ``negotiated`` endpoint on this call.
ENCODING_OPTION = "protobuf"
#: The ``Accept`` value of a request that asks for a protobuf result (JSON stays acceptable).
ACCEPT = f"{CONTENT_TYPE}, application/json"


@settings
class AcceptRule:
    """Ask for protobuf results on an endpoint that fetches the results of others (a futures
    retrieve endpoint): its requests carry ``Accept: application/x-protobuf, application/json``.

    ``when_header`` limits that to requests carrying one of the listed values in a header
    (e.g. the header naming the kind of request whose result is fetched); empty: always.
    """

    when_header: Mapping[str, tuple[str, ...]] = attrs.Factory(dict)

    def applies(self, headers: Mapping[str, str]) -> bool:
        """Whether a request with ``headers`` asks for protobuf."""
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        return all(lowered.get(name.lower()) in values for name, values in self.when_header.items())


@settings
class ProtobufEndpoint:
    """The endpoint keys: ``encoding: "protobuf"`` turns the plugin on for an endpoint."""

    encoding: Literal["json", "protobuf"] | None = None
    message: str | None = None
    result_message: str | None = None
    compression: Literal["zstd"] | None = None
    negotiated: bool = False
    fields: Mapping[str, JsonMapping] = attrs.Factory(dict)
    accept: AcceptRule | None = None


@settings
class ProtobufOptions:
    """Call options: ``protobuf`` (use protobuf on a negotiated endpoint) and
    ``protobuf_compression`` (``"zstd"`` or ``"none"``)."""

    protobuf: bool = False
    protobuf_compression: Literal["zstd", "none"] | None = None


@attrs.frozen(slots=True)
class EndpointProtobuf:
    """An endpoint's protobuf declaration (from its :class:`ProtobufEndpoint` keys).

    ``encoding: "protobuf"`` turns it on; ``message`` names the request body's message,
    ``result_message`` the message of a protobuf reply (or future result); ``compression``
    (``"zstd"``) compresses request bodies unless a call overrides it. ``negotiated: true``
    keeps JSON unless a call asks for protobuf (the server said it accepts it; for ``accept``,
    unless the client turned protobuf results on); ``fields`` gives top-level fields their
    ``json`` mappings (see :mod:`.mapping`); ``accept`` (:class:`AcceptRule`) asks for
    protobuf results on an endpoint that fetches them for others.
    """

    message: str | None = None
    result_message: str | None = None
    compression: str | None = None
    negotiated: bool = False
    fields: Mapping[str, JsonMapping] = attrs.Factory(dict)
    accept: AcceptRule | None = None

    @classmethod
    def of(cls, keys: ProtobufEndpoint) -> EndpointProtobuf | None:
        """The declaration of an endpoint's keys, or None when it is not protobuf."""
        if keys.encoding != ENCODING:
            return None
        return cls(keys.message, keys.result_message, keys.compression, keys.negotiated, keys.fields,
                   keys.accept)

    def problems(self, at: str, messages: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Problems with this declaration (``at`` is the endpoint's path)."""
        out: list[tuple[str, str]] = []
        for key, name in (("message", self.message), ("result_message", self.result_message)):
            if name is not None and name not in messages:
                out.append((f"{at}.{key}", f"names no message of features.protobuf ({name!r})"))
        if self.message is None and self.result_message is None and self.accept is None:
            out.append((f"{at}.message", "a protobuf endpoint names a message, a result_message or "
                        "an accept rule"))
        if self.compression is not None and self.compression not in COMPRESSIONS:
            out.append((f"{at}.compression", f"must be one of {', '.join(COMPRESSIONS)}"))
        fields = messages.get(self.message) if self.message is not None else None
        for name in self.fields:
            if fields is not None and name not in fields.by_name:
                out.append((f"{at}.fields.{name}", f"is not a field of {self.message}"))
        return out


@settings
class ProtobufSettings:
    """Client-level options (``config["protobuf"]``).

    ``zstd_level`` is the compression level of zstd bodies; ``compression`` overrides every
    endpoint's declared compression (``"none"`` turns it off, None keeps the declarations);
    ``results: true`` asks for protobuf results on ``negotiated`` endpoints with an ``accept``
    rule from the start (a client can also turn that on later:
    :meth:`ProtobufPlugin.accept_results`).
    """

    zstd_level: int = attrs.field(default=3, validator=at_least(1))
    compression: Literal["zstd", "none"] | None = None
    results: bool = False


@settings
class ProtobufConfig:
    """The config key ``protobuf``."""

    protobuf: ProtobufSettings | None = None


SETTINGS = PluginSettings(
    sections={"features.protobuf": ProtobufSchemaSpec},
    endpoint=ProtobufEndpoint,
    config=ProtobufConfig,
    options=ProtobufOptions,
)
