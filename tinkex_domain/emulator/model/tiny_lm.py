"""TinyLM: a frozen byte-level base transformer plus trainable LoRA adapters (the served model)."""

from __future__ import annotations

import operator
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import sampling
from .adam import AdamHyper, adam_step
from .batching import Batch, check_datums, make_batches, token_ids
from .lora import adapter_grads, effective_weights
from .losses import resolve_config, token_losses
from .network import Network
from .state import TrainState
from .types import (
    VOCAB_SIZE,
    DatumArrays,
    Dims,
    ForwardResult,
    LoraSpec,
    SampledSequence,
    UserInputError,
)
from .weights import ARCHITECTURE, TARGETS, base_weights, init_lora, trained_targets


class TinyLM:
    """One model instance: base weights (shared by name), LoRA state, gradients and Adam state.

    Not thread-safe; the server serialises calls per instance.
    """

    def __init__(self, base_model: str, lora: LoraSpec, dims: Dims, dtype: np.dtype) -> None:
        try:
            rank = operator.index(lora.rank)
        except TypeError:
            rank = 0
        if rank < 1:
            raise UserInputError(f"lora_config.rank: must be an integer >= 1, got {lora.rank!r}")
        self.base_model = base_model
        self.lora = lora
        self.dims = dims
        self.dtype = np.dtype(dtype)
        self._base = base_weights(base_model, dims, self.dtype)
        self._state = TrainState.fresh(init_lora(base_model, lora, dims, self.dtype))
        self._groups = frozenset(TARGETS[t][0] for t in trained_targets(lora))
        self._scale = dims.lora_alpha / rank
        self._net: Network | None = None

    @classmethod
    def create(cls, base_model: str, lora: LoraSpec, *, dims: Dims | None = None,
               dtype: Any = np.float32) -> TinyLM:
        """A model whose base is seeded from ``base_model``; a fresh adapter equals the base.

        ``dims`` and ``dtype`` exist for tests (float64 gradient checks, small windows).
        """
        return cls(base_model, lora, dims or Dims(), np.dtype(dtype))

    # --------------------------------------------------------------- internals
    def network(self) -> Network:
        """The network over the current effective weights (rebuilt after weight changes)."""
        if self._net is None:
            weights = effective_weights(self._base, self._state.params, self._scale)
            self._net = Network(self._base["embed"], weights, self.dims)
        return self._net

    def gradients(self) -> dict[str, np.ndarray]:
        """Copies of the accumulated gradients (keys as in :meth:`state_dict`)."""
        return {k: g.copy() for k, g in self._state.grads.items()}

    def _run_batch(self, batch: Batch, loss_fn: str, config: dict[str, float],
                   backward: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        net = self.network()
        cache = net.forward(batch.tokens)
        table = cache.logprobs
        logp = np.take_along_axis(table, batch.targets[:, :, None], axis=-1)[:, :, 0]
        loss, d_logp, clipped = token_losses(loss_fn, config, logp, batch.floats)
        loss = np.where(batch.mask, loss, 0.0).astype(self.dtype)
        clipped &= batch.mask
        if backward and self._groups:
            d_logp = np.where(batch.mask, d_logp, 0.0).astype(self.dtype)
            # d logp_t / d logits = onehot(target) - softmax
            d_logits = cache.probs * -d_logp[:, :, None]
            b_idx, t_idx = np.indices(batch.targets.shape)
            d_logits[b_idx, t_idx, batch.targets] += d_logp
            weight_grads = net.backward(cache, d_logits, self._groups)
            for key, g in adapter_grads(weight_grads, self._state.params, self._scale).items():
                self._state.grads[key] += g
        return logp, loss, clipped

    # ------------------------------------------------------------------ training
    def forward_backward(self, data: list[DatumArrays], loss_fn: str,
                         loss_fn_config: dict[str, float] | None, backward: bool) -> ForwardResult:
        """Per-datum logprobs and elementwise losses; with ``backward`` also accumulates the
        gradient of the summed loss into the gradient buffers (applied by :meth:`optim_step`)."""
        start = time.perf_counter()
        config = resolve_config(loss_fn, loss_fn_config)
        datums = check_datums(data, loss_fn, self.dtype)
        outputs: list[dict[str, np.ndarray]] = [{} for _ in datums]
        total_loss, n_tokens, n_clipped = 0.0, 0, 0
        for batch in make_batches(datums):
            logp, loss, clipped = self._run_batch(batch, loss_fn, config, backward)
            total_loss += float(loss.sum(dtype=np.float64))
            n_clipped += int(clipped.sum())
            for row, (i, n) in enumerate(zip(batch.index, batch.lengths, strict=True)):
                n_tokens += n
                outputs[i] = {"logprobs": logp[row, :n].astype(np.float32),
                              "elementwise_loss": loss[row, :n].astype(np.float32)}
        metrics = {"loss:sum": total_loss, "num_tokens:sum": float(n_tokens),
                   "num_sequences:sum": float(len(datums))}
        if "clip_low_threshold" in config:
            metrics["clip_fraction:mean"] = n_clipped / max(n_tokens, 1)
        return ForwardResult(outputs, metrics, time.perf_counter() - start)

    def optim_step(self, learning_rate: float, beta1: float, beta2: float, eps: float,
                   weight_decay: float, grad_clip_norm: float) -> dict[str, float]:
        """One AdamW step on the accumulated gradients, which are then zeroed."""
        hp = AdamHyper(float(learning_rate), float(beta1), float(beta2), float(eps),
                       float(weight_decay), float(grad_clip_norm))
        st = self._state
        st.step += 1
        metrics = adam_step(st.params, st.grads, st.m, st.v, st.step, hp)
        st.zero_grads()
        self._net = None
        metrics["step:max"] = float(st.step)
        return metrics

    # ------------------------------------------------------------------ sampling
    def _prompt(self, prompt: np.ndarray) -> np.ndarray:
        tokens = token_ids(prompt, "prompt")
        if tokens.size == 0:
            raise UserInputError("prompt: must hold at least one token")
        return tokens

    def sample(self, prompt: np.ndarray, *, max_tokens: int, temperature: float = 1.0, top_k: int = -1,
               top_p: float = 1.0, stop: list[list[int]] | None = None, seed: int | None = None,
               num_samples: int = 1) -> list[SampledSequence]:
        """``num_samples`` continuations; same ``seed`` -> same tokens (``None``: fresh entropy).

        A matched stop sequence is included in the tokens (stop_reason "stop"); otherwise the
        sequence has ``max_tokens`` tokens (stop_reason "length"). Logprobs are the model's
        unmodified (temperature 1) log-probabilities of the chosen tokens.
        """
        tokens = self._prompt(prompt)
        stops = sampling.check_sampling_args(int(max_tokens), float(temperature), int(top_k),
                                             float(top_p), stop, int(num_samples), VOCAB_SIZE)
        rng = np.random.default_rng(None if seed is None else _seed_words(int(seed)))
        return sampling.sample(self.network(), tokens, max_tokens=int(max_tokens),
                               temperature=float(temperature), top_k=int(top_k), top_p=float(top_p),
                               stops=stops, rng=rng, num_samples=int(num_samples))

    def _prompt_table(self, prompt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tokens = self._prompt(prompt)
        if tokens.size == 1:
            return tokens, np.zeros((0, VOCAB_SIZE), dtype=self.dtype)
        return tokens, self.network().forward(tokens[None, :-1]).logprobs[0]

    def prompt_logprobs(self, prompt: np.ndarray) -> list[float | None]:
        """``[None, log p(prompt[1] | prompt[:1]), ...]``."""
        tokens, table = self._prompt_table(prompt)
        picked = table[np.arange(table.shape[0]), tokens[1:]]
        return [None, *(float(x) for x in picked)]

    def topk_prompt_logprobs(self, prompt: np.ndarray, k: int) -> list[list[tuple[int, float]] | None]:
        """Per prompt position after the first: the ``k`` most likely tokens, most likely first."""
        if int(k) < 1:
            raise UserInputError(f"topk_prompt_logprobs: must be >= 1, got {k}")
        _, table = self._prompt_table(prompt)
        k = min(int(k), VOCAB_SIZE)
        rows: list[list[tuple[int, float]] | None] = [None]
        for row in table:
            top = np.argsort(-row, kind="stable")[:k]
            rows.append([(int(t), float(row[t])) for t in top])
        return rows

    # ------------------------------------------------------------------ state
    def state_dict(self, with_optimizer: bool = True) -> dict[str, np.ndarray]:
        """Copies of the LoRA weights (and Adam ``m``, ``v``, ``step``); see :mod:`.state`."""
        return self._state.export(with_optimizer)

    def load_state_dict(self, state: Mapping[str, np.ndarray], with_optimizer: bool) -> None:
        """Restore a :meth:`state_dict` exactly (UserInputError if it does not fit this model)."""
        self._state.load(state, with_optimizer)
        self._net = None

    def adapter_config(self) -> dict[str, Any]:
        """JSON-able description of the adapter and the architecture it belongs to."""
        d = self.dims
        return {"architecture": ARCHITECTURE, "base_model": self.base_model, "rank": self.lora.rank,
                "lora_alpha": d.lora_alpha, "seed": self.lora.seed, "train_mlp": self.lora.train_mlp,
                "train_attn": self.lora.train_attn, "train_unembed": self.lora.train_unembed,
                "target_modules": list(trained_targets(self.lora)), "vocab_size": VOCAB_SIZE,
                "d_model": d.d_model, "d_ff": d.d_ff, "attention_window": d.window,
                "alibi_slope": d.alibi_slope, "num_trainable_params": self.num_trainable_params}

    @property
    def num_trainable_params(self) -> int:
        """Number of trainable LoRA parameters."""
        return int(sum(p.size for p in self._state.params.values()))


def _seed_words(seed: int) -> list[int]:
    """Any Python int (negative too) as non-negative 32-bit words for numpy's SeedSequence."""
    words = [1 if seed < 0 else 0]
    value = abs(seed)
    while True:
        words.append(value & 0xFFFFFFFF)
        value >>= 32
        if not value:
            return words
