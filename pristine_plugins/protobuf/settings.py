"""The plugin's settings: what an endpoint declares, and the client-level options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .schema import json_mapping_problems

ENCODING = "protobuf"
CONTENT_TYPE = "application/x-protobuf"
COMPRESSIONS = ("zstd",)
#: ``RequestOptions.extensions`` key: per-call compression override (``"zstd"`` or ``"none"``).
COMPRESSION_OPTION = "protobuf_compression"
#: ``RequestOptions.extensions`` key: use protobuf for a ``negotiated`` endpoint on this call.
ENCODING_OPTION = "protobuf"


@attrs.frozen(slots=True)
class EndpointProtobuf:
    """An endpoint's ``extensions`` for this plugin.

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
    def of(cls, extensions: Mapping[str, Any]) -> EndpointProtobuf | None:
        """The declaration in an endpoint's extensions, or None when it is not protobuf."""
        if extensions.get("encoding") != ENCODING:
            return None
        fields = extensions.get("fields")
        return cls(extensions.get("message"), extensions.get("result_message"),
                   extensions.get("compression"), bool(extensions.get("negotiated", False)),
                   fields if isinstance(fields, Mapping) else {})

    def problems(self, at: str, messages: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Problems with this declaration (``at`` is the endpoint's extensions path)."""
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


@attrs.frozen(slots=True)
class ProtobufSettings:
    """Client-level options (``client.config["protobuf"]``).

    ``zstd_level`` is the compression level of zstd bodies; ``compression`` overrides every
    endpoint's declared compression (``"none"`` turns it off, None keeps the declarations).
    """

    zstd_level: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    compression: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_((*COMPRESSIONS, "none"))))

    @classmethod
    def from_option(cls, raw: Any) -> ProtobufSettings:
        """Build from the client option (a mapping, an instance, or None)."""
        if raw is None:
            return cls()
        if isinstance(raw, cls):
            return raw
        if not isinstance(raw, Mapping):
            raise ValueError("config.protobuf: must be an object")
        unknown = sorted(set(raw) - {f.name for f in attrs.fields(cls)})
        if unknown:
            raise ValueError(f"config.protobuf.{unknown[0]}: unknown key")
        return cls(**raw)
