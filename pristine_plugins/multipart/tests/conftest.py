"""Fixtures for the multipart plugin tests: a manifest with multipart endpoints, a client factory,
and multipart parsers independent of the encoder (werkzeug's form parser, the stdlib email
parser)."""

from __future__ import annotations

import copy
import email.parser
import email.policy
import io
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from werkzeug.formparser import parse_form_data

from pristine_core import Client
from pristine_plugins.multipart import MultipartPlugin

MANIFEST: dict[str, Any] = {
    "name": "uploads",
    "base_url": "http://uploads.test",
    "types": {
        "UploadIn": {
            "type": "object",
            "properties": {
                "purpose": {"type": "string"},
                "count": {"type": "integer"},
                "meta": {"type": "object", "additionalProperties": True},
            },
        },
        "Plain": {"type": "object", "properties": {"name": {"type": "string"}}},
    },
    "resources": {
        "files": {
            "upload": {"method": "POST", "path": "/files", "request": "UploadIn", "multipart": True},
            "json_only": {"method": "POST", "path": "/json", "request": "Plain"},
        }
    },
}


@attrs.frozen
class ParsedForm:
    """A multipart body as werkzeug parsed it: ``fields`` name -> values, ``files`` name ->
    [(filename, content_type, data)]."""

    fields: dict[str, list[str]]
    files: dict[str, list[tuple[str | None, str | None, bytes]]]


def werkzeug_parse(content_type: str, body: bytes) -> ParsedForm:
    """Parse with werkzeug's multipart form parser."""
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    _, form, files = parse_form_data(environ, max_form_memory_size=None)
    return ParsedForm(
        fields=form.to_dict(flat=False),
        files={key: [(f.filename, f.content_type, f.read()) for f in files.getlist(key)] for key in files},
    )


def email_parse(content_type: str, body: bytes) -> list[dict[str, Any]]:
    """Parse with the stdlib email parser: one dict per part (name, filename, type, charset, data)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    assert message.is_multipart()
    parts = []
    for part in message.iter_parts():
        parts.append(
            {
                "name": part.get_param("name", header="content-disposition"),
                "filename": part.get_filename(),
                "type": part.get_content_type() if part.get("Content-Type") else None,
                "charset": part.get_content_charset(),
                "data": part.get_payload(decode=True),
            }
        )
    return parts


@pytest.fixture
def manifest() -> dict[str, Any]:
    """A fresh copy of the test manifest."""
    return copy.deepcopy(MANIFEST)


@pytest.fixture
def parse_werkzeug() -> Callable[[str, bytes], ParsedForm]:
    """werkzeug's parser, as a fixture (test modules cannot import conftest)."""
    return werkzeug_parse


@pytest.fixture
def parse_email() -> Callable[[str, bytes], list[dict[str, Any]]]:
    """The stdlib email parser, as a fixture."""
    return email_parse


@pytest.fixture
def make_client(
    manifest: dict[str, Any], client_factory: Callable[..., Client]
) -> Callable[..., Client]:
    """``make_client(base_url, extra_plugins=[...])``; ``client_factory`` closes the clients."""

    def build(base_url: str, extra_plugins: list[Any] | None = None) -> Client:
        return client_factory(manifest, plugins=[MultipartPlugin(), *(extra_plugins or [])], base_url=base_url)

    return build
