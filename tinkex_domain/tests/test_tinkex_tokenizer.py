"""Unit tests of tokenizer resolution (nothing is downloaded)."""

from __future__ import annotations

import importlib.util

import pytest

from tinkex_domain.tokenizer import ByteTokenizer, get_tokenizer, is_byte_level, load_hf_tokenizer, resolve_tokenizer_id


def test_byte_tokenizer_round_trips_utf8() -> None:
    tok = ByteTokenizer()
    ids = tok.encode("naïve ✓")
    assert ids == list("naïve ✓".encode())
    assert tok.decode(ids) == "naïve ✓"
    assert tok.decode([0xE2, 0x9C]) == "\ufffd"  # an incomplete character is replaced, not raised
    assert tok("ab") == {"input_ids": [97, 98]}


def test_emulator_models_use_the_byte_tokenizer() -> None:
    assert is_byte_level("Qwen/Qwen3-8B", "tinkex/byte-level")
    assert is_byte_level("Qwen/Qwen3-8B", None, "tinkex-tiny-lm")
    assert is_byte_level("tinkex/tiny-byte-lm")
    assert not is_byte_level("Qwen/Qwen3-8B", "Qwen/Qwen3-8B")
    assert isinstance(get_tokenizer("meta-llama/Llama-3.1-8B", "tinkex/byte-level:rev"), ByteTokenizer)


def test_hugging_face_id_resolution() -> None:
    assert resolve_tokenizer_id("Qwen/Qwen3-8B") == "Qwen/Qwen3-8B"
    assert resolve_tokenizer_id("Qwen/Qwen3-8B:abc123") == "Qwen/Qwen3-8B"
    assert resolve_tokenizer_id("org/model/variant") == "org/model"
    assert resolve_tokenizer_id("meta-llama/Llama-3.1-8B") == "thinkingmachineslabinc/meta-llama-3-instruct-tokenizer"
    assert resolve_tokenizer_id("x/y", tokenizer_id="a/b:rev") == "a/b"


@pytest.mark.skipif(
    importlib.util.find_spec("transformers") is not None or importlib.util.find_spec("tokenizers") is not None
    or importlib.util.find_spec("huggingface_hub") is not None,
    reason="a Hugging Face library is installed; loading would download",
)
def test_without_hugging_face_libraries_the_error_says_what_to_install() -> None:
    load_hf_tokenizer.cache_clear()
    with pytest.raises(ImportError, match=r"tinkex\[hf\]"):
        get_tokenizer("Qwen/Qwen3-8B")
