"""Tokenizers: a byte-level one for emulator models, Hugging Face ones for real models.

Emulator models (tokenizer id ``tinkex/byte-level``, architecture ``tinkex-tiny-lm`` or a name
under ``tinkex/``) read UTF-8 bytes: token id = byte value. Other models load a Hugging Face
tokenizer through ``transformers`` (or ``tokenizers``) when installed; the id is resolved as the
tinker SDK does it (revision suffix after ``:`` dropped, Llama-3 override, ``org/model/variant``
→ ``org/model``).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

BYTE_LEVEL_TOKENIZER_ID = "tinkex/byte-level"
EMULATOR_ARCH = "tinkex-tiny-lm"
_LLAMA3_TOKENIZER = "thinkingmachineslabinc/meta-llama-3-instruct-tokenizer"


class Tokenizer(Protocol):
    """What Tinkex needs from a tokenizer."""

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]:
        """Text → token ids."""
        ...

    def decode(self, tokens: Iterable[int], skip_special_tokens: bool = ...) -> str:
        """Token ids → text."""
        ...


class ByteTokenizer:
    """Token id = UTF-8 byte value (vocabulary 256); decoding replaces invalid sequences."""

    vocab_size = 256
    name_or_path = BYTE_LEVEL_TOKENIZER_ID

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """The UTF-8 bytes of ``text``."""
        return list(text.encode("utf-8"))

    def decode(self, tokens: Iterable[int], skip_special_tokens: bool = False) -> str:
        """The text of the byte ids (ids outside 0..255 are skipped)."""
        return bytes(int(t) for t in tokens if 0 <= int(t) < 256).decode("utf-8", errors="replace")

    def __call__(self, text: str) -> dict[str, list[int]]:
        """Hugging Face style: ``{"input_ids": [...]}``."""
        return {"input_ids": self.encode(text)}

    def __repr__(self) -> str:
        return "ByteTokenizer()"


def is_byte_level(model_name: str | None, tokenizer_id: str | None = None, arch: str | None = None) -> bool:
    """True for emulator models, which use the byte-level tokenizer."""
    if tokenizer_id and tokenizer_id.split(":", 1)[0] == BYTE_LEVEL_TOKENIZER_ID:
        return True
    if arch == EMULATOR_ARCH:
        return True
    return bool(model_name) and str(model_name).startswith("tinkex/")


def resolve_tokenizer_id(model_name: str, tokenizer_id: str | None = None) -> str:
    """The Hugging Face repository id for a model (tinker's rules)."""
    name = (tokenizer_id or model_name).split(":", 1)[0]
    if name.startswith("meta-llama/Llama-3"):
        return _LLAMA3_TOKENIZER
    parts = name.split("/")
    if len(parts) > 2:
        name = "/".join(parts[:2])
    return name


@functools.lru_cache(maxsize=32)
def load_hf_tokenizer(repo_id: str) -> Any:
    """A Hugging Face tokenizer for a Hub id or a local path (cached).

    With ``tinkex[hf]`` installed (``huggingface_hub``, ``tokenizers``, ``tiktoken``) this goes
    through :func:`tinkex_domain.hf_tokenizers.load_tokenizer`; with only ``transformers``
    installed, through ``AutoTokenizer``.
    """
    have = {name: importlib.util.find_spec(name) is not None for name in ("huggingface_hub", "tokenizers")}
    if all(have.values()):
        from tinkex_domain.hf_tokenizers import load_tokenizer

        return load_tokenizer(repo_id)
    try:
        transformers = importlib.import_module("transformers")
    except ImportError:
        raise ImportError(
            f"loading the tokenizer {repo_id!r} needs `tinkex[hf]` (huggingface_hub, tokenizers, tiktoken) "
            "or `transformers` installed"
        ) from None
    return transformers.AutoTokenizer.from_pretrained(repo_id, use_fast=True)


def get_tokenizer(model_name: str, tokenizer_id: str | None = None, arch: str | None = None) -> Any:
    """The tokenizer for a model: byte-level for emulator models, else Hugging Face (a local
    directory or file given as the model or tokenizer id is loaded as it is)."""
    if is_byte_level(model_name, tokenizer_id, arch):
        return ByteTokenizer()
    ref = tokenizer_id or model_name
    if ref and Path(ref).expanduser().exists():
        return load_hf_tokenizer(ref)
    return load_hf_tokenizer(resolve_tokenizer_id(model_name, tokenizer_id))
