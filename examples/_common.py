"""Shared by the examples: a ServiceClient on $TINKER_BASE_URL, or on an embedded emulator."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from tinkex import ServiceClient, types
from tinkex.emulator import Emulator

BASE_MODEL = "tinkex/tiny-byte-lm"


def text_datum(text: str) -> types.Datum:
    """Next-byte prediction on ``text``: inputs are bytes[:-1], targets bytes[1:]."""
    tokens = list(text.encode("utf-8"))
    return types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={"target_tokens": tokens[1:]},
    )


@contextlib.contextmanager
def service_client() -> Iterator[ServiceClient]:
    """A ServiceClient on ``TINKER_BASE_URL`` when set, else on an emulator started here."""
    if os.environ.get("TINKER_BASE_URL"):
        with ServiceClient() as service:
            yield service
        return
    with Emulator() as emulator, ServiceClient(api_key="tml-example", base_url=emulator.base_url) as service:
        yield service
