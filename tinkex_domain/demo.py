"""The README demo: fine-tune a tiny byte-level model on a bundled corpus, offline, in seconds.

    tinkex demo [--steps N] [--plot loss.png]        # or: python -m tinkex_domain.demo

It starts an embedded Tinker emulator (unless ``--base-url`` names a server), creates a LoRA
training client, trains ``--steps`` steps of ``cross_entropy`` on windows of the corpus with a
progress bar, saves sampler weights, samples the same prompt with the same seed before and
after training, draws the loss curve (ASCII; PNG with ``--plot`` when matplotlib is
installed) and ends with ``demo: loss X -> Y (-Z%)``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any, TextIO

import attrs
import numpy as np

from tinkex_domain import types

DEFAULT_STEPS = 30
DEFAULT_MODEL = "tinkex/tiny-byte-lm"
_FALLBACK_CORPUS = (
    "The quick brown fox jumps over the lazy dog. A stitch in time saves nine.\n"
    "All that glitters is not gold. Fortune favours the bold. Practice makes perfect.\n"
) * 8


@attrs.frozen
class DemoResult:
    """What a demo run measured."""

    losses: list[float]
    sample_before: str
    sample_after: str
    checkpoint_path: str
    plot_path: str | None = None

    @property
    def first_loss(self) -> float:
        """Loss per token at the first step."""
        return self.losses[0]

    @property
    def last_loss(self) -> float:
        """Loss per token at the last step."""
        return self.losses[-1]

    def summary(self) -> str:
        """``demo: loss X -> Y (-Z%)``."""
        change = (self.last_loss - self.first_loss) / self.first_loss * 100 if self.first_loss else 0.0
        return f"demo: loss {self.first_loss:.3f} -> {self.last_loss:.3f} ({change:+.1f}%)"


def load_corpus() -> str:
    """The bundled corpus (``tinkex_domain/data/tiny_corpus.txt``), or a short built-in text."""
    try:
        return resources.files("tinkex_domain").joinpath("data").joinpath("tiny_corpus.txt").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return _FALLBACK_CORPUS


def windows(corpus: bytes, size: int, batch: int, rng: np.random.Generator) -> list[types.Datum]:
    """``batch`` random next-byte-prediction windows of ``size + 1`` bytes."""
    size = min(size, len(corpus) - 1)
    starts = rng.integers(0, len(corpus) - size, size=batch)
    data = []
    for start in starts:
        chunk = list(corpus[start : start + size + 1])
        data.append(types.Datum(
            model_input=types.ModelInput.from_ints(chunk[:-1]),
            loss_fn_inputs={"target_tokens": chunk[1:], "weights": [1.0] * (len(chunk) - 1)},
        ))
    return data


def progress_line(step: int, steps: int, loss: float, width: int = 24) -> str:
    """``[#######.........] 12/30 loss 2.345``."""
    filled = round(width * step / steps) if steps else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {step:>{len(str(steps))}}/{steps} loss {loss:.3f}"


def ascii_chart(values: Sequence[float], height: int = 8, width: int = 60) -> str:
    """A small ASCII line chart of ``values`` (averaged into at most ``width`` columns)."""
    if not values:
        return "(no data)"
    cols = np.array_split(np.asarray(values, dtype=float), min(width, len(values)))
    points = [float(c.mean()) for c in cols]
    top, bottom = max(points), min(points)
    span = (top - bottom) or 1.0
    levels = [round((p - bottom) / span * (height - 1)) for p in points]
    lines = []
    for row in range(height - 1, -1, -1):
        label = f"{bottom + span * row / (height - 1):8.3f} |"
        lines.append(label + "".join("*" if lvl == row else " " for lvl in levels).rstrip())
    lines.append(" " * 9 + "+" + "-" * len(points))
    lines.append(" " * 10 + f"step 1{' ' * max(len(points) - 6 - len(str(len(values))), 1)}{len(values)}")
    return "\n".join(lines)


def save_plot(values: Sequence[float], path: str) -> bool:
    """Write a PNG of the loss curve with matplotlib; False when matplotlib is missing."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        return False
    matplotlib.use("Agg")
    pyplot = importlib.import_module("matplotlib.pyplot")
    fig, ax = pyplot.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss per token")
    ax.set_title("tinkex demo: cross-entropy on the bundled corpus")
    fig.tight_layout()
    fig.savefig(path)
    pyplot.close(fig)
    return True


def _text(tokens: Sequence[int]) -> str:
    return bytes(t for t in tokens if 0 <= t < 256).decode("utf-8", errors="replace")


@contextlib.contextmanager
def _server(base_url: str | None, api_key: str | None) -> Iterator[tuple[str, str | None]]:
    if base_url:
        yield base_url, api_key
        return
    from tinkex_domain.emulator import DEMO_API_KEY, Emulator, EmulatorConfig

    with Emulator(EmulatorConfig(long_poll_s=0.5)) as emu:
        yield emu.base_url, api_key or DEMO_API_KEY


def _sample(client: Any, prompt: list[int], max_tokens: int, seed: int) -> str:
    params = types.SamplingParams(max_tokens=max_tokens, temperature=0.7, seed=seed)
    reply = client.sample(types.ModelInput.from_ints(prompt), 1, params).result()
    return _text(reply.sequences[0].tokens)


def run_demo(
    steps: int = DEFAULT_STEPS, plot: str | None = None, *, out: TextIO | None = None, base_url: str | None = None,
    api_key: str | None = None, base_model: str = DEFAULT_MODEL, batch_size: int = 8, window: int = 48,
    learning_rate: float = 5e-3, rank: int = 8, seed: int = 0, sample_tokens: int = 48,
) -> DemoResult:
    """Run the demo, printing to ``out``; returns what it measured."""
    from tinkex_domain.service_client import ServiceClient

    if steps < 1:
        raise ValueError("steps must be >= 1")
    out = out or sys.stdout
    tty = bool(getattr(out, "isatty", lambda: False)())
    corpus = load_corpus().encode("utf-8")
    rng = np.random.default_rng(seed)
    prompt = list(corpus[:24])
    losses: list[float] = []
    with _server(base_url, api_key) as (url, key), ServiceClient(
        api_key=key, base_url=url, config={"telemetry": False}
    ) as service:
        print(f"tinkex demo: {steps} steps of LoRA (rank {rank}) on {base_model} at {url}", file=out)
        print(f"corpus: {len(corpus)} bytes; batches of {batch_size} windows of {window} bytes", file=out)
        training = service.create_lora_training_client(base_model, rank=rank, seed=seed)
        before = _sample(service.create_sampling_client(base_model=base_model), prompt, sample_tokens, seed)
        adam = types.AdamParams(learning_rate=learning_rate)
        for step in range(1, steps + 1):
            fwd = training.forward_backward(windows(corpus, window, batch_size, rng), "cross_entropy")
            training.optim_step(adam)
            metrics = fwd.result().metrics
            losses.append(metrics["loss:sum"] / max(metrics.get("num_tokens:sum", 1.0), 1.0))
            line = progress_line(step, steps, losses[-1])
            if tty:
                out.write("\r" + line)
                out.flush()
            elif step == steps or step % max(steps // 10, 1) == 0:
                print(line, file=out)
        if tty:
            out.write("\n")
        saved = training.save_weights_for_sampler("demo-final").result()
        if saved.path is None:
            raise RuntimeError("save_weights_for_sampler returned no path")
        saved_path = saved.path
        after = _sample(training.create_sampling_client(saved_path), prompt, sample_tokens, seed)
    print(f"\nprompt:          {_text(prompt)!r}", file=out)
    print(f"before training: {before!r}", file=out)
    print(f"after training:  {after!r}", file=out)
    print(f"\nloss per token\n{ascii_chart(losses)}", file=out)
    plot_path = None
    if plot:
        if save_plot(losses, plot):
            plot_path = plot
            print(f"plot written to {plot}", file=out)
        else:
            print("matplotlib is not installed: --plot skipped (pip install matplotlib)", file=out)
    result = DemoResult(losses, before, after, saved_path, plot_path)
    print(result.summary(), file=out)
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options (shared by ``tinkex demo`` and ``python -m tinkex_domain.demo``)."""
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="training steps (default %(default)s)")
    parser.add_argument("--plot", metavar="PATH", help="also write the loss curve as a PNG (needs matplotlib)")
    parser.add_argument("--base-model", default=DEFAULT_MODEL, help="model to fine-tune (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--window", type=int, default=48, help="bytes per training window")
    parser.add_argument("--learning-rate", type=float, default=5e-3)
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank")
    parser.add_argument("--seed", type=int, default=0)


def run_from_args(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run with parsed arguments; returns the exit status."""
    run_demo(
        args.steps, args.plot, out=out, base_url=getattr(args, "base_url", None),
        api_key=getattr(args, "api_key", None), base_model=args.base_model, batch_size=args.batch_size,
        window=args.window, learning_rate=args.learning_rate, rank=args.rank, seed=args.seed,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinkex_domain.demo``."""
    parser = argparse.ArgumentParser(prog="python -m tinkex_domain.demo", description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--base-url", help="use this Tinker server instead of an embedded emulator")
    parser.add_argument("--api-key")
    args = parser.parse_args(argv)
    if argv is None:
        from tinkex_domain.cli import configure_logging

        configure_logging()
    return run_from_args(args)


if __name__ == "__main__":
    sys.exit(main())
