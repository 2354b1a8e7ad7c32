"""The plugin's settings, declared through ``pristine_settings``: the ``features.protobuf``
section (messages and enums as data, checked by :mod:`.schema`), the endpoint keys
(:class:`ProtobufEndpoint`), the config key ``protobuf`` (:class:`ProtobufSettings`) and the call
options ``protobuf`` / ``protobuf_compression`` (:class:`ProtobufOptions`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from pristine_core.contract import PluginSettings, at_least, settings

from .schema import json_mapping_problems

ENCODING = "protobuf"
CONTENT_TYPE = "application/x-protobuf"
COMPRESSIONS = ("zstd",)
#: Call option: per-call compression override (``"zstd"`` or ``"none"``).
COMPRESSION_OPTION = "protobuf_compression"
#: Call option: use protobuf for a ``negotiated`` endpoint on this call.
ENCODING_OPTION = "protobuf"


@settings
class ProtobufEndpoint:
    """The endpoint keys: ``encoding: "protobuf"`` turns the plugin on for an endpoint."""

    encoding: Literal["json", "protobuf"] | None = None
    message: str | None = None
    result_message: str | None = None
    compression: Literal["zstd"] | None = None
    negotiated: bool = False
    fields: Mapping[str, Mapping[str, Any]] = attrs.Factory(dict)


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
    keeps JSON unless a call asks for protobuf (the server said it accepts it); ``fields``
    gives top-level fields their ``json`` mappings (see :mod:`.mapping`).
    """

    message: str | None = None
    result_message: str | None = None
    compression: str | None = None
    negotiated: bool = False
    fields: Mapping[str, Mapping[str, Any]] = attrs.Factory(dict)

    @classmethod
    def of(cls, keys: ProtobufEndpoint) -> EndpointProtobuf | None:
        """The declaration of an endpoint's keys, or None when it is not protobuf."""
        if keys.encoding != ENCODING:
            return None
        return cls(keys.message, keys.result_message, keys.compression, keys.negotiated, keys.fields)

    def problems(self, at: str, messages: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Problems with this declaration (``at`` is the endpoint's path)."""
        out: list[tuple[str, str]] = []
        for key, name in (("message", self.message), ("result_message", self.result_message)):
            if name is not None and name not in messages:
                out.append((f"{at}.{key}", f"names no message of features.protobuf ({name!r})"))
        if self.message is None and self.result_message is None:
            out.append((f"{at}.message", "a protobuf endpoint names a message or a result_message"))
        if self.compression is not None and self.compression not in COMPRESSIONS:
            out.append((f"{at}.compression", f"must be one of {', '.join(COMPRESSIONS)}"))
        fields = messages.get(self.message) if self.message is not None else None
        for name, mapping in self.fields.items():
            if fields is not None and name not in fields.by_name:
                out.append((f"{at}.fields.{name}", f"is not a field of {self.message}"))
            out.extend(json_mapping_problems(mapping, f"{at}.fields.{name}"))
        return out


@settings
class ProtobufSettings:
    """Client-level options (``config["protobuf"]``).

    ``zstd_level`` is the compression level of zstd bodies; ``compression`` overrides every
    endpoint's declared compression (``"none"`` turns it off, None keeps the declarations).
    """

    zstd_level: int = attrs.field(default=3, validator=at_least(1))
    compression: Literal["zstd", "none"] | None = None


@settings
class ProtobufConfig:
    """The config key ``protobuf``."""

    protobuf: ProtobufSettings | None = None


SETTINGS = PluginSettings(
    sections={"features.protobuf": dict[str, Any]},
    endpoint=ProtobufEndpoint,
    config=ProtobufConfig,
    options=ProtobufOptions,
)
