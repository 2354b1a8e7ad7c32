"""Model inputs: token chunks, image chunks and :class:`ModelInput` with the tinker helpers."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from tinkex_domain.types._common import fail, optional_int, token_tuple

ImageFormat = Literal["png", "jpeg"]
_FORMATS = ("png", "jpeg")


def _check_const(expected: str) -> Any:
    def check(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
        if value != expected:
            fail(type(inst).__name__, attribute.name, f"must be {expected!r}")

    return check


def _check_format(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    if value not in _FORMATS:
        fail(type(inst).__name__, attribute.name, f"must be one of {', '.join(_FORMATS)}, got {value!r}")


def _image_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):  # the wire form: base64 text
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            fail("ImageChunk", "data", "a string must be base64-encoded image bytes")
    fail("ImageChunk", "data", f"expected bytes, got {type(value).__name__}")


def _chunk_length(chunk: Any, kind: str) -> int:
    if chunk.expected_tokens is None:
        fail(kind, "expected_tokens", "is needed to know the length of an image chunk")
    return int(chunk.expected_tokens)


@attrs.frozen
class EncodedTextChunk:
    """A run of token ids (wire ``{"type": "encoded_text", "tokens": [...]}``)."""

    tokens: tuple[int, ...] = attrs.field(converter=lambda v: token_tuple("EncodedTextChunk", "tokens", v))
    type: Literal["encoded_text"] = attrs.field(default="encoded_text", validator=_check_const("encoded_text"))

    @property
    def length(self) -> int:
        """How many tokens this chunk holds."""
        return len(self.tokens)


@attrs.frozen
class ImageChunk:
    """An inline image; ``data`` holds the raw bytes (base64 on the wire)."""

    data: bytes = attrs.field(converter=_image_bytes, repr=lambda b: f"<{len(b)} bytes>")
    format: ImageFormat = attrs.field(validator=_check_format)
    expected_tokens: int | None = attrs.field(
        default=None, converter=lambda v: optional_int("ImageChunk", "expected_tokens", v)
    )
    type: Literal["image"] = attrs.field(default="image", validator=_check_const("image"))

    @property
    def length(self) -> int:
        """``expected_tokens`` (required to know the length)."""
        return _chunk_length(self, "ImageChunk")


@attrs.frozen
class ImageAssetPointerChunk:
    """An image referenced by ``location`` (cannot be sent through forward/backward)."""

    location: str
    format: ImageFormat = attrs.field(validator=_check_format)
    expected_tokens: int | None = attrs.field(
        default=None, converter=lambda v: optional_int("ImageAssetPointerChunk", "expected_tokens", v)
    )
    type: Literal["image_asset_pointer"] = attrs.field(
        default="image_asset_pointer", validator=_check_const("image_asset_pointer")
    )

    @property
    def length(self) -> int:
        """``expected_tokens`` (required to know the length)."""
        return _chunk_length(self, "ImageAssetPointerChunk")


ModelInputChunk = EncodedTextChunk | ImageChunk | ImageAssetPointerChunk
_CHUNK_CLASSES: dict[str, type] = {
    "encoded_text": EncodedTextChunk,
    "image": ImageChunk,
    "image_asset_pointer": ImageAssetPointerChunk,
}


def _chunk(value: Any, index: int) -> ModelInputChunk:
    if isinstance(value, (EncodedTextChunk, ImageChunk, ImageAssetPointerChunk)):
        return value
    if isinstance(value, Mapping):
        cls = _CHUNK_CLASSES.get(str(value.get("type", "encoded_text")))
        if cls is None:
            fail("ModelInput", f"chunks[{index}].type", f"unknown chunk type {value.get('type')!r}")
        return cls(**value)  # type: ignore[no-any-return]
    fail("ModelInput", f"chunks[{index}]", f"expected a chunk, got {type(value).__name__}")


def _chunks(values: Iterable[Any]) -> tuple[ModelInputChunk, ...]:
    if isinstance(values, (str, bytes, Mapping)):
        fail("ModelInput", "chunks", "expected a sequence of chunks")
    return tuple(_chunk(v, i) for i, v in enumerate(values))


@attrs.frozen
class ModelInput:
    """What the model reads: a sequence of chunks. Helpers return new objects (immutable)."""

    chunks: tuple[ModelInputChunk, ...] = attrs.field(default=(), converter=_chunks)

    @classmethod
    def from_ints(cls, tokens: Iterable[int]) -> ModelInput:
        """One text chunk holding ``tokens``."""
        return cls(chunks=(EncodedTextChunk(tokens=tokens),))

    @classmethod
    def from_text(
        cls, text: str, tokenizer: Any = None, *, model_name: str | None = None, training_client: Any = None
    ) -> ModelInput:
        """One text chunk holding ``text`` tokenized (no chat template, no special tokens added).

        The tokenizer is ``tokenizer`` (anything with ``encode``), else ``training_client``'s, else
        the one for ``model_name`` (a Hub id or a local tokenizer path; emulator models are
        byte-level). Exactly one of the three is needed.
        """
        if not isinstance(text, str):
            fail("ModelInput", "text", "expected a string")
        if tokenizer is None and training_client is not None:
            tokenizer = training_client.get_tokenizer()
        if tokenizer is None and model_name:
            from tinkex_domain.tokenizer import get_tokenizer

            tokenizer = get_tokenizer(model_name)
        if tokenizer is None:
            fail("ModelInput", "tokenizer", "pass a tokenizer, a training_client or a model_name")
        return cls.from_ints(tokenizer.encode(text))

    @classmethod
    def empty(cls) -> ModelInput:
        """A model input without chunks."""
        return cls(chunks=())

    def to_ints(self) -> list[int]:
        """Every token id, in order; raises ``ValueError`` when an image chunk is present."""
        out: list[int] = []
        for i, chunk in enumerate(self.chunks):
            if not isinstance(chunk, EncodedTextChunk):
                fail("ModelInput", f"chunks[{i}]", f"to_ints() supports text chunks only, found {chunk.type!r}")
            out.extend(chunk.tokens)
        return out

    @property
    def length(self) -> int:
        """Total token count (image chunks count their ``expected_tokens``)."""
        return sum(chunk.length for chunk in self.chunks)

    def append(self, chunk: ModelInputChunk) -> ModelInput:
        """A new model input with ``chunk`` added at the end."""
        return ModelInput(chunks=(*self.chunks, _chunk(chunk, len(self.chunks))))

    def append_int(self, token: int) -> ModelInput:
        """A new model input with one more token (extends a trailing text chunk)."""
        if self.chunks and isinstance(self.chunks[-1], EncodedTextChunk):
            last = self.chunks[-1]
            return ModelInput(chunks=(*self.chunks[:-1], EncodedTextChunk(tokens=(*last.tokens, token))))
        return self.append(EncodedTextChunk(tokens=(token,)))


def as_model_input(value: Any, type_name: str, field: str) -> ModelInput:
    """Accept a :class:`ModelInput`, a ``{"chunks": [...]}`` mapping or a list of token ids."""
    if isinstance(value, ModelInput):
        return value
    if isinstance(value, Mapping):
        return ModelInput(**value)
    if (isinstance(value, Sequence) and not isinstance(value, (str, bytes))) or hasattr(value, "tolist"):
        return ModelInput.from_ints(value)
    fail(type_name, field, f"expected a ModelInput, got {type(value).__name__}")
