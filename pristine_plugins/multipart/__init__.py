"""Pristine plugin ``multipart``: streamed multipart/form-data bodies and file utilities.

Endpoints declared ``"multipart": true`` send their validated body fields (flattened with
bracket names) and the files given as ``RequestOptions(extensions={"files": ...})`` as a
multipart/form-data body that is streamed from disk with an exact ``Content-Length``.
"""

from __future__ import annotations

from typing import Any

from pristine_core import hookimpl
from pristine_core.bands import ENCODING
from pristine_core.contract import PluginSettings, settings
from pristine_core.errors import ValidationError
from pristine_core.manifest.models import Endpoint, Manifest
from pristine_core.pipeline import Call, EncodedBody
from pristine_plugins.multipart.encoder import MultipartBody, encode_multipart, flatten_fields, form_value
from pristine_plugins.multipart.files import (
    DEFAULT_CONTENT_TYPE,
    FileTooLargeError,
    UploadFile,
    guess_content_type,
    read_file,
    upload_file,
    upload_files,
)

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "FILES_OPTION",
    "FileTooLargeError",
    "MultipartBody",
    "MultipartPlugin",
    "UploadFile",
    "encode_multipart",
    "flatten_fields",
    "form_value",
    "guess_content_type",
    "read_file",
    "upload_file",
    "upload_files",
]

#: The per-call option that carries the files of a call.
FILES_OPTION = "files"


@settings
class MultipartEndpoint:
    """Per-endpoint key: ``multipart: true`` sends the body as multipart/form-data."""

    multipart: bool = False


@settings
class MultipartOptions:
    """Per-call option key ``files``: ``{field: path | bytes | file object | (name, content[, type])}``."""

    files: Any = None


SETTINGS = PluginSettings(endpoint=MultipartEndpoint, options=MultipartOptions)


class MultipartPlugin:
    """Encodes the bodies of ``multipart`` endpoints (priority ENCODING: the last word on the
    wire format, after every plugin that shapes the body fields)."""

    name = "multipart"
    priority = ENCODING

    @hookimpl
    def pristine_settings(self) -> PluginSettings:
        """The endpoint key ``multipart`` and the call option ``files``."""
        return SETTINGS

    @hookimpl
    def pristine_validate_manifest(self, manifest: Manifest) -> list[tuple[str, str]]:
        """Multipart endpoints need a method that carries a body."""
        return [
            (f"resources.{ep.resource}.{ep.name}.multipart", f"a {ep.method} request has no body to encode")
            for ep in manifest.endpoints()
            if ep.settings_of(MultipartEndpoint).multipart and ep.method in ("GET", "HEAD")
        ]

    @hookimpl
    def pristine_applies_to(self, endpoint: Endpoint) -> bool:
        """Only ``multipart`` endpoints (a call passing ``files`` elsewhere still gets its error)."""
        return bool(endpoint.settings_of(MultipartEndpoint).multipart)

    @hookimpl
    def pristine_encode_body(self, call: Call) -> EncodedBody | None:
        """A streamed multipart body for ``multipart`` endpoints; None (JSON) for the others."""
        files = call.settings_of(MultipartOptions).files
        if not call.endpoint.settings_of(MultipartEndpoint).multipart:
            if files:
                raise ValidationError(
                    [("request_options.files", "this endpoint does not take files (not multipart)")],
                    call.endpoint.qualified_name,
                )
            return None
        body = encode_multipart(flatten_fields(call.wire_body), upload_files(files))
        return EncodedBody(data=body, content_type=body.content_type, length=len(body))
