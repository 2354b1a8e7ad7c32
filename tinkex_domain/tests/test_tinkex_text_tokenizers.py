"""Text tokenization through locally built tokenizers: a BPE trained here with ``tokenizers``
(loaded by path and, through the Hub stand-in, by repository id) and a generated tiktoken BPE
for the Kimi K2 path. Nothing is downloaded from the internet."""

from __future__ import annotations

import base64
import collections
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("tiktoken")
pytest.importorskip("huggingface_hub")

from tinkex_domain import ServiceClient
from tinkex_domain.hf_tokenizers import (
    KIMI_PAT_STR,
    HFTokenizer,
    TiktokenTokenizer,
    TokenizerLoadError,
    load_tokenizer,
)
from tinkex_domain.tokenizer import ByteTokenizer, get_tokenizer, load_hf_tokenizer
from tinkex_domain.types import ModelInput

from .conftest import BASE_MODEL
from .hub_standin import HubStandIn

CORPUS = Path(__file__).resolve().parents[1] / "data" / "tiny_corpus.txt"
TEXT = "the model learns to predict the next token"


@pytest.fixture(scope="module")
def bpe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-token byte-level BPE trained on the bundled corpus, saved as tokenizer.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train([str(CORPUS)], trainer)
    out = tmp_path_factory.mktemp("bpe")
    tok.save(str(out / "tokenizer.json"))
    return out


def _train_ranks(text: str, merges: int) -> dict[bytes, int]:
    """Byte-pair merges learnt on ``text`` (tiktoken's format: token bytes → rank)."""
    ranks = {bytes([i]): i for i in range(256)}
    words = [[bytes([b]) for b in word.encode()] for word in text.split(" ")]
    for _ in range(merges):
        pairs = collections.Counter((a, b) for w in words for a, b in itertools.pairwise(w))
        if not pairs:
            break
        (a, b), _count = pairs.most_common(1)[0]
        ranks[a + b] = len(ranks)
        merged_words = []
        for w in words:
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged_words.append(out)
        words = merged_words
    return ranks


@pytest.fixture(scope="module")
def kimi_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiktoken.model`` (generated merges) and ``tokenizer_config.json`` with two special tokens."""
    ranks = _train_ranks(CORPUS.read_text(encoding="utf-8"), 60)
    out = tmp_path_factory.mktemp("kimi")
    lines = [f"{base64.b64encode(token).decode()} {rank}" for token, rank in ranks.items()]
    (out / "tiktoken.model").write_text("\n".join(lines) + "\n")
    n = len(ranks)
    config = {"added_tokens_decoder": {str(n): {"content": "[BOS]", "special": True},
                                       str(n + 1): {"content": "<|im_end|>", "special": True}}}
    (out / "tokenizer_config.json").write_text(json.dumps(config))
    return out


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubStandIn]:
    with HubStandIn() as standin:
        monkeypatch.setenv("HF_ENDPOINT", standin.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        load_tokenizer.cache_clear()
        load_hf_tokenizer.cache_clear()
        yield standin
    load_tokenizer.cache_clear()
    load_hf_tokenizer.cache_clear()


def test_local_bpe_round_trips_through_model_input(bpe_dir: Path) -> None:
    tok = get_tokenizer(str(bpe_dir))
    assert isinstance(tok, HFTokenizer) and tok.vocab_size == 300
    ids = tok.encode(TEXT)
    assert len(ids) < len(TEXT.encode())  # merges were learnt
    assert tok.decode(ids) == TEXT
    by_path = ModelInput.from_text(TEXT, model_name=str(bpe_dir))
    by_file = ModelInput.from_text(TEXT, model_name=str(bpe_dir / "tokenizer.json"))
    assert by_path.to_ints() == by_file.to_ints() == ids


def test_hub_id_goes_through_the_same_loader(bpe_dir: Path, hub: HubStandIn) -> None:
    hub.add_file("acme/tiny-bpe", "tokenizer.json", (bpe_dir / "tokenizer.json").read_bytes())
    tok = get_tokenizer("acme/tiny-bpe")
    assert isinstance(tok, HFTokenizer)
    assert tok.encode(TEXT) == get_tokenizer(str(bpe_dir)).encode(TEXT)
    assert any("/acme/tiny-bpe/resolve/main/tokenizer.json" in r.path for r in hub.requests)
    with pytest.raises(TokenizerLoadError) as info:
        load_tokenizer("acme/missing")
    assert "acme/missing" in str(info.value)


def test_kimi_path_with_special_tokens(kimi_dir: Path) -> None:
    tok = load_tokenizer(str(kimi_dir))
    assert isinstance(tok, TiktokenTokenizer)
    ids = tok.encode(TEXT + "<|im_end|>")
    assert ids[-1] == tok.vocab_size - 1  # the special token, allowed by default
    assert tok.decode(ids) == TEXT + "<|im_end|>"
    assert tok.decode(ids, skip_special_tokens=True) == TEXT
    plain = tok.encode("<|im_end|>", allow_special_tokens=False)
    assert tok.vocab_size - 1 not in plain and tok.decode(plain) == "<|im_end|>"
    assert ModelInput.from_text(TEXT, tokenizer=tok).to_ints() == tok.encode(TEXT)
    assert "Han" in KIMI_PAT_STR


def test_kimi_repo_is_fetched_at_the_pinned_revision(kimi_dir: Path, hub: HubStandIn) -> None:
    from tinkex_domain.hf_tokenizers import KIMI_REPO, KIMI_REVISION

    for name in ("tiktoken.model", "tokenizer_config.json"):
        hub.add_file(KIMI_REPO, name, (kimi_dir / name).read_bytes(), revision=KIMI_REVISION)
    tok = get_tokenizer(KIMI_REPO)
    assert isinstance(tok, TiktokenTokenizer) and tok.decode(tok.encode(TEXT)) == TEXT
    assert any(f"/resolve/{KIMI_REVISION}/tiktoken.model" in r.path for r in hub.requests)


def test_emulator_clients_keep_the_byte_tokenizer(service: ServiceClient) -> None:
    training = service.create_lora_training_client(BASE_MODEL, rank=2)
    assert isinstance(training.get_tokenizer(), ByteTokenizer)
    assert training.encode("héllo") == list("héllo".encode())
    assert training.decode(training.encode("héllo")) == "héllo"
    assert ModelInput.from_text("hi", training_client=training).to_ints() == [104, 105]
    sampler = service.create_sampling_client(base_model=BASE_MODEL)
    assert sampler.encode("ok") == [111, 107] and sampler.decode([111, 107]) == "ok"


def test_from_text_needs_a_tokenizer_source() -> None:
    from pristine_core.errors import ValidationError

    with pytest.raises(ValidationError, match="tokenizer"):
        ModelInput.from_text("x")
    with pytest.raises(ValidationError, match="text"):
        ModelInput.from_text(3, tokenizer=ByteTokenizer())  # type: ignore[arg-type]
