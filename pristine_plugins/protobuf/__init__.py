"""Pristine plugin ``protobuf``: protobuf request bodies and results from message definitions.

The manifest's ``features.protobuf`` block describes messages and enums as data (see
:mod:`.schema`). An endpoint opts in through its keys (:class:`ProtobufEndpoint`)::

    "encoding": "protobuf", "message": "PointRequest",
    "result_message": "PointReply", "compression": "zstd"

Its validated (JSON-shaped) body is mapped onto the message (fields may say where their
value is, see :mod:`.mapping`) and sent serialized (``application/x-protobuf``,
zstd-compressed with ``Content-Encoding: zstd`` when declared or asked per call through
``request_options={"protobuf_compression": "zstd" | "none"}``; a
``negotiated`` endpoint stays JSON unless the call passes ``{"protobuf": True}``), and a protobuf
reply is decoded into a dict of the result message. A result that arrives by another route
(a future's result fetched by the retrieve endpoint) is decoded through the
``pristine_decode_result`` hook and reshaped by the message's ``result`` rules (see
:mod:`.results`) into the JSON-shaped data the endpoint's result type parses. An endpoint that
fetches results for others asks for protobuf with an ``accept`` rule (``Accept:
application/x-protobuf, application/json``), on ``negotiated`` endpoints only once the client
turned protobuf results on (:meth:`ProtobufPlugin.accept_results`, or config ``results``).
"""

from __future__ import annotations

from typing import Any

from pristine_core import hookimpl
from pristine_core.bands import ENCODING
from pristine_core.contract import PluginSettings
from pristine_core.errors import APIResponseValidationError, ValidationError
from pristine_core.manifest.models import Endpoint, Manifest
from pristine_core.pipeline import Call, EncodedBody, Request, Response
from pristine_plugins.protobuf.codec import Codec, DecodeError, EncodeError
from pristine_plugins.protobuf.compression import compress, decompress, undo_content_encoding
from pristine_plugins.protobuf.mapping import JsonMapper
from pristine_plugins.protobuf.results import ResultMapper
from pristine_plugins.protobuf.schema import FieldDef, MessageDef, Schema, SchemaError
from pristine_plugins.protobuf.settings import (
    ACCEPT,
    COMPRESSION_OPTION,
    CONTENT_TYPE,
    ENCODING_OPTION,
    SETTINGS,
    EndpointProtobuf,
    ProtobufConfig,
    ProtobufEndpoint,
    ProtobufOptions,
    ProtobufSettings,
)

__all__ = [
    "COMPRESSION_OPTION",
    "CONTENT_TYPE",
    "Codec",
    "DecodeError",
    "ENCODING_OPTION",
    "EncodeError",
    "EndpointProtobuf",
    "FieldDef",
    "JsonMapper",
    "MessageDef",
    "ProtobufPlugin",
    "ProtobufSettings",
    "ResultMapper",
    "Schema",
    "SchemaError",
    "compress",
    "decompress",
    "schema_of",
]

FEATURE = "protobuf"


def schema_of(manifest: Manifest) -> Schema | None:
    """The manifest's ``features.protobuf`` schema (None when it declares none)."""
    block = manifest.section("features.protobuf")
    return None if block is None else Schema.from_spec(block)


class ProtobufPlugin:
    """Encodes bodies of endpoints declared ``encoding: protobuf`` and decodes their replies."""

    name = FEATURE
    priority = ENCODING

    def __init__(self) -> None:
        self._codec: Codec | None = None
        self._mapper: JsonMapper | None = None
        self._results: ResultMapper | None = None
        self._settings = ProtobufSettings()
        self._accept_results = False

    @hookimpl
    def pristine_settings(self) -> PluginSettings:
        """``features.protobuf``, the endpoint keys, the config key and the call options."""
        return SETTINGS

    @hookimpl
    def pristine_validate_manifest(self, manifest: Manifest) -> list[tuple[str, str]]:
        """The schema is well formed and every protobuf endpoint names messages it defines."""
        try:
            schema = schema_of(manifest)
        except SchemaError as exc:
            return list(exc.problems)
        problems: list[tuple[str, str]] = []
        for ep in manifest.endpoints():
            decl = EndpointProtobuf.of(ep.settings_of(ProtobufEndpoint))
            if decl is None:
                continue
            at = f"resources.{ep.resource}.{ep.name}"
            if schema is None:
                problems.append((at, "declares protobuf but the manifest has no features.protobuf"))
                continue
            problems.extend(decl.problems(at, schema.messages))
        return problems

    @hookimpl
    def pristine_configure(self, client: Any) -> None:
        """Build the codec from the manifest and read ``client.meta.config["protobuf"]``."""
        schema = schema_of(client.meta.manifest)
        self._codec = Codec(schema) if schema is not None else None
        self._mapper = JsonMapper(schema) if schema is not None else None
        self._results = ResultMapper(schema) if schema is not None else None
        self._settings = client.meta.settings_of(ProtobufConfig).protobuf or ProtobufSettings()
        self._accept_results = self._settings.results

    def accept_results(self, on: bool = True) -> None:
        """Ask (or stop asking) for protobuf results on ``negotiated`` endpoints with an
        ``accept`` rule: for clients that learn at run time that the server can send them."""
        self._accept_results = bool(on)

    @property
    def accepts_results(self) -> bool:
        """Whether negotiated ``accept`` endpoints currently ask for protobuf results."""
        return self._accept_results

    @property
    def codec(self) -> Codec:
        """The codec of the manifest's schema (RuntimeError when it declares none)."""
        if self._codec is None:
            raise RuntimeError("the manifest declares no features.protobuf schema")
        return self._codec

    @property
    def settings(self) -> ProtobufSettings:
        """The client-level settings."""
        return self._settings

    def compression_for(self, call: Call, decl: EndpointProtobuf) -> str | None:
        """The compression of this call: per-call option, then client setting, then declaration."""
        per_call = call.settings_of(ProtobufOptions).protobuf_compression
        choice = per_call or self._settings.compression or decl.compression
        return None if choice in (None, "none") else str(choice)

    @hookimpl
    def pristine_applies_to(self, endpoint: Endpoint) -> bool:
        """Only endpoints declaring ``encoding: protobuf``."""
        return EndpointProtobuf.of(endpoint.settings_of(ProtobufEndpoint)) is not None

    @hookimpl
    def pristine_encode_body(self, call: Call) -> EncodedBody | None:
        """The serialized request message for protobuf endpoints; None for the others."""
        decl = EndpointProtobuf.of(call.endpoint.settings_of(ProtobufEndpoint))
        if decl is None or decl.message is None:
            return None
        if decl.negotiated and not call.settings_of(ProtobufOptions).protobuf:
            return None
        assert self._mapper is not None
        try:
            message = self._mapper.to_message(decl.message, call.wire_body or {}, decl.fields)
            data = self.codec.encode(decl.message, message)
        except EncodeError as exc:
            raise ValidationError([(exc.path or "body", str(exc).split(": ", 1)[-1])],
                                  call.endpoint.qualified_name) from None
        kind = self.compression_for(call, decl)
        if kind is not None:
            data = compress(data, kind, self._settings.zstd_level)
            call.headers["Content-Encoding"] = kind
        return EncodedBody(data, CONTENT_TYPE, len(data))

    @hookimpl
    def pristine_prepare_attempt(self, request: Request) -> None:
        """``Accept: application/x-protobuf, application/json`` on requests an ``accept`` rule
        covers (negotiated rules: only once the client turned protobuf results on)."""
        call = request.call
        if call is None:
            return
        decl = EndpointProtobuf.of(call.endpoint.settings_of(ProtobufEndpoint))
        if decl is None or decl.accept is None:
            return
        if decl.negotiated and not (self._accept_results or call.settings_of(ProtobufOptions).protobuf):
            return
        if decl.accept.applies(request.headers):
            for name in [k for k in request.headers if k.lower() == "accept"]:
                del request.headers[name]
            request.headers["Accept"] = ACCEPT

    def decode_result(self, endpoint: Endpoint, content: bytes) -> Any:
        """A protobuf result of ``endpoint`` (its ``result_message``) as the JSON-shaped data
        its result type parses; :class:`APIResponseValidationError` when it is malformed."""
        decl = EndpointProtobuf.of(endpoint.settings_of(ProtobufEndpoint))
        if decl is None or decl.result_message is None:
            raise APIResponseValidationError(f"{endpoint.qualified_name}: declares no protobuf result_message")
        assert self._results is not None
        try:
            return self._results.to_json(decl.result_message, self.codec.decode(decl.result_message, content))
        except (DecodeError, ValueError) as exc:
            raise APIResponseValidationError(
                f"{endpoint.qualified_name}: invalid protobuf {decl.result_message} result ({exc})") from None

    @hookimpl
    def pristine_decode_result(self, endpoint: Endpoint, response: Response) -> Any:
        """A protobuf result (``Content-Type: application/x-protobuf``) of an endpoint that
        names a ``result_message``, reshaped by the message's ``result`` rules; None otherwise."""
        decl = EndpointProtobuf.of(endpoint.settings_of(ProtobufEndpoint))
        if decl is None or decl.result_message is None:
            return None
        if not response.headers.get("Content-Type", "").startswith(CONTENT_TYPE):
            return None
        # The transport undoes gzip and deflate; a zstd body it left alone is undone here.
        try:
            content = undo_content_encoding(response.content, response.headers.get("Content-Encoding", ""))
        except Exception as exc:  # zstandard's errors, or the extra missing
            raise APIResponseValidationError(
                f"{endpoint.qualified_name}: cannot undo the result's Content-Encoding ({exc})") from None
        return self.decode_result(endpoint, content)

    @hookimpl
    def pristine_process_response(self, call: Call, response: Response) -> Any:
        """Decode a protobuf reply of an endpoint that names a ``result_message`` (reshaped
        by its ``result`` rules, like a result that arrives by another route)."""
        # Future endpoints never get here: the futures plugin (priority 300) answers first.
        return self.pristine_decode_result(call.endpoint, response)
