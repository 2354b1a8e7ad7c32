"""A future's result that is not JSON goes through the ``pristine_decode_result`` hook."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from pristine_core import APIResponseValidationError, hookimpl
from pristine_core.manifest.models import Endpoint
from pristine_core.pipeline import Response
from pristine_testing import Reply, json_reply


class CsvDecoder:
    """A tiny decoding plugin: ``text/csv`` results become ``{"value": <sum of the cells>, ...}``."""

    name = "csv-decoder"
    priority = 10

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    def pristine_decode_result(self, endpoint: Endpoint, response: Response) -> Any:
        media = response.headers.get("content-type", "").split(";")[0].strip()
        if media != "text/csv":
            return None
        self.seen.append((endpoint.qualified_name, media))
        rows = list(csv.reader(io.StringIO(response.text)))
        return {"value": sum(int(cell) for row in rows for cell in row), "note": f"{len(rows)} rows"}


def csv_reply(text: str) -> Reply:
    return Reply(200, text.encode(), headers={"Content-Type": "text/csv; charset=utf-8"})


def test_hook_pristine_decode_result(future_server, make_client):
    """The hook gets the submitting endpoint and the retrieve reply; its data is parsed into the
    endpoint's result type."""
    decoder = CsvDecoder()
    client = make_client(future_server.url, extra_plugins=(decoder,))
    future_server.script("r1", json_reply({"type": "try_again"}), csv_reply("1,2\n3,4\n"))
    result = client.jobs.submit(x=1).result(timeout=10)
    assert (result.value, result.note) == (10, "2 rows")
    assert decoder.seen == [("jobs.submit", "text/csv")]


def test_decoded_data_that_does_not_fit_the_result_type_is_a_validation_error(future_server, make_client):
    class Wrong(CsvDecoder):
        @hookimpl
        def pristine_decode_result(self, endpoint: Endpoint, response: Response) -> Any:
            return {"value": "many"}

    client = make_client(future_server.url, extra_plugins=(Wrong(),))
    future_server.script("r1", csv_reply("1\n"))  # parses as JSON too: the declared CSV wins
    with pytest.raises(APIResponseValidationError, match="malformed future result"):
        client.jobs.submit(x=1).result(timeout=10)


def test_without_a_decoder_a_typed_result_fails_and_an_untyped_one_is_bytes(future_server, make_client):
    client = make_client(future_server.url)
    future_server.script("r1", csv_reply("1,2\n"))
    with pytest.raises(APIResponseValidationError, match=r"not JSON.*text/csv"):
        client.jobs.submit(x=1).result(timeout=10)
    future_server.script("r2", csv_reply("1,2\n"))
    assert client.jobs.submit_untyped(x=1).result(timeout=10) == b"1,2\n"


def test_a_decoder_declining_other_types_leaves_them_alone(future_server, make_client):
    decoder = CsvDecoder()
    client = make_client(future_server.url, extra_plugins=(decoder,))
    future_server.script("r1", Reply(200, b"\x00\x01", headers={"Content-Type": "application/octet-stream"}))
    assert client.jobs.submit_untyped(x=1).result(timeout=10) == b"\x00\x01"
    assert decoder.seen == []
