"""Text tokenizers from Hugging Face files, loaded from a Hub repository id or a local path
through one code path (``tinkex[hf]``: ``huggingface_hub``, ``tokenizers``, ``tiktoken``).

- A repository or directory with ``tokenizer.json`` → a ``tokenizers`` tokenizer.
- A repository or directory with ``tiktoken.model`` (+ ``tokenizer_config.json`` for the
  special tokens) → a ``tiktoken`` encoding with Kimi K2's split pattern. ``moonshotai/Kimi-K2-Thinking``
  is fetched at the revision the Elixir tinkex pins.

Hub files go through ``huggingface_hub.hf_hub_download`` (``HF_ENDPOINT``, ``HF_HOME`` and
``HF_TOKEN`` are read when the call is made); nothing here speaks HTTP itself.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pristine_core.errors import ValidationError

KIMI_REPO = "moonshotai/Kimi-K2-Thinking"
KIMI_REVISION = "612681931a8c906ddb349f8ad0f582cb552189cd"
#: Kimi K2's pre-tokenizer split (Han runs, cased words with English contractions, 1-3 digits,
#: punctuation runs, newlines, spaces).
KIMI_PAT_STR = "|".join(
    [
        r"[\p{Han}]+",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+"
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*"
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n]*",
        r"\s*[\r\n]+",
        r"\s+(?!\S)",
        r"\s+",
    ]
)


class TokenizerLoadError(ValidationError):
    """A tokenizer could not be loaded (missing library, file or repository)."""

    def __init__(self, ref: str, reason: str) -> None:
        super().__init__([("tokenizer", f"failed to load tokenizer {ref}: {reason}")], "tokenizer")


def _module(name: str, ref: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise TokenizerLoadError(ref, f"needs `{name}` (pip install 'tinkex[hf]')") from None


class HFTokenizer:
    """A ``tokenizers.Tokenizer`` with the encode/decode calls Tinkex uses."""

    def __init__(self, tokenizer: Any, name_or_path: str) -> None:
        self._tok = tokenizer
        self.name_or_path = name_or_path

    @property
    def vocab_size(self) -> int:
        """Tokens in the vocabulary (special tokens included)."""
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Text → token ids (no chat template)."""
        return list(self._tok.encode(text, add_special_tokens=add_special_tokens).ids)

    def decode(self, tokens: Iterable[int], skip_special_tokens: bool = False) -> str:
        """Token ids → text."""
        return str(self._tok.decode([int(t) for t in tokens], skip_special_tokens=skip_special_tokens))

    def __repr__(self) -> str:
        return f"HFTokenizer({self.name_or_path!r})"


class TiktokenTokenizer:
    """A ``tiktoken`` encoding (Kimi K2 style) with the same calls; special tokens are allowed
    in the input by default (``allowed_special="all"``)."""

    def __init__(self, encoding: Any, name_or_path: str) -> None:
        self._enc = encoding
        self.name_or_path = name_or_path

    @property
    def vocab_size(self) -> int:
        """Tokens in the vocabulary (special tokens included)."""
        return int(self._enc.n_vocab)

    def encode(self, text: str, add_special_tokens: bool = False, allow_special_tokens: bool = True) -> list[int]:
        """Text → token ids; with ``allow_special_tokens=False`` special-token text is plain text."""
        if allow_special_tokens:
            return list(self._enc.encode(text, allowed_special="all"))
        return list(self._enc.encode(text, allowed_special=set(), disallowed_special=()))

    def decode(self, tokens: Iterable[int], skip_special_tokens: bool = False) -> str:
        """Token ids → text (special tokens dropped with ``skip_special_tokens``)."""
        ids = [int(t) for t in tokens]
        if skip_special_tokens:
            special = set(self._enc._special_tokens.values())
            ids = [t for t in ids if t not in special]
        return str(self._enc.decode(ids))

    def __repr__(self) -> str:
        return f"TiktokenTokenizer({self.name_or_path!r})"


def _hub_file(repo_id: str, filename: str, revision: str | None) -> Path | None:
    """A file of a Hub repository through ``huggingface_hub`` (None when the repo lacks it)."""
    hub = _module("huggingface_hub", repo_id)
    errors = importlib.import_module("huggingface_hub.errors")
    endpoint = os.environ.get("HF_ENDPOINT") or None
    home = os.environ.get("HF_HOME")
    cache_dir = os.environ.get("HF_HUB_CACHE") or (str(Path(home) / "hub") if home else None)
    try:
        path = hub.hf_hub_download(repo_id, filename, revision=revision, endpoint=endpoint, cache_dir=cache_dir)
    except errors.EntryNotFoundError:
        return None
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError) as exc:
        raise TokenizerLoadError(repo_id, f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise TokenizerLoadError(repo_id, f"{type(exc).__name__}: {exc}") from None
    return Path(path)


def _file(ref: str, filename: str, revision: str | None) -> Path | None:
    local = Path(ref).expanduser()
    if local.is_dir():
        path = local / filename
        return path if path.is_file() else None
    return _hub_file(ref, filename, revision)


def _special_tokens(config_path: Path | None) -> dict[str, int]:
    if config_path is None:
        return {}
    data = json.loads(config_path.read_text(encoding="utf-8"))
    decoder = data.get("added_tokens_decoder") or {}
    return {str(entry["content"]): int(token_id) for token_id, entry in decoder.items() if "content" in entry}


def _tiktoken(ref: str, model_path: Path, config_path: Path | None) -> TiktokenTokenizer:
    tiktoken = _module("tiktoken", ref)
    load = importlib.import_module("tiktoken.load")
    ranks = load.load_tiktoken_bpe(str(model_path))
    encoding = tiktoken.Encoding(
        name=f"tinkex:{ref}", pat_str=KIMI_PAT_STR, mergeable_ranks=ranks, special_tokens=_special_tokens(config_path)
    )
    return TiktokenTokenizer(encoding, ref)


@functools.lru_cache(maxsize=32)
def load_tokenizer(ref: str, revision: str | None = None) -> HFTokenizer | TiktokenTokenizer:
    """The tokenizer at ``ref``: a local directory, a local ``tokenizer.json``/``tiktoken.model``
    file, or a Hub repository id (cached per ``(ref, revision)``)."""
    local = Path(ref).expanduser()
    if local.is_file():
        if local.name.endswith(".json"):
            tokenizers = _module("tokenizers", ref)
            return HFTokenizer(tokenizers.Tokenizer.from_file(str(local)), ref)
        config = local.with_name("tokenizer_config.json")
        return _tiktoken(ref, local, config if config.is_file() else None)
    if ref == KIMI_REPO and revision is None:
        revision = KIMI_REVISION
    if ref != KIMI_REPO:
        path = _file(ref, "tokenizer.json", revision)
        if path is not None:
            tokenizers = _module("tokenizers", ref)
            return HFTokenizer(tokenizers.Tokenizer.from_file(str(path)), ref)
    model = _file(ref, "tiktoken.model", revision)
    if model is None:
        raise TokenizerLoadError(ref, "neither tokenizer.json nor tiktoken.model found")
    return _tiktoken(ref, model, _file(ref, "tokenizer_config.json", revision))
