"""The README demo: a few steps against the emulator, its chart, summary and the CLI entry."""

from __future__ import annotations

import importlib.util
import io
import re
from pathlib import Path

import numpy as np
import pytest

from tinkex_domain.cli import main
from tinkex_domain.demo import DemoResult, ascii_chart, load_corpus, progress_line, run_demo, windows
from tinkex_domain.emulator import Emulator

SUMMARY = re.compile(r"^demo: loss (\d+\.\d{3}) -> (\d+\.\d{3}) \(([+-]\d+\.\d)%\)$", re.M)


def test_demo_trains_and_the_loss_falls(emulator: Emulator) -> None:
    out = io.StringIO()
    result = run_demo(6, out=out, base_url=emulator.base_url, api_key="tml-demo-test", batch_size=4, window=32)
    text = out.getvalue()
    assert len(result.losses) == 6 and all(np.isfinite(result.losses))
    assert result.last_loss < result.first_loss  # fixed seeds: the same run every time
    assert result.checkpoint_path.startswith("tinker://") and "/sampler_weights/demo-final" in result.checkpoint_path
    assert "before training:" in text and "after training:" in text and "loss per token" in text
    assert "6/6 loss" in text
    match = SUMMARY.search(text)
    assert match is not None
    first, last, change = (float(g) for g in match.groups())
    assert first == pytest.approx(result.first_loss, abs=1e-3) and last == pytest.approx(result.last_loss, abs=1e-3)
    assert change == pytest.approx((last - first) / first * 100, abs=0.11)


def test_samples_before_and_after_are_reproducible(emulator: Emulator) -> None:
    kwargs = {"out": io.StringIO(), "base_url": emulator.base_url, "api_key": "tml-demo-test", "batch_size": 2,
              "window": 16, "sample_tokens": 12}
    one, two = run_demo(2, **kwargs), run_demo(2, **kwargs)  # type: ignore[arg-type]
    assert one.sample_before == two.sample_before and one.sample_after == two.sample_after
    assert one.losses == pytest.approx(two.losses, rel=1e-5)


def test_plot_is_written_or_skipped_with_a_message(emulator: Emulator, tmp_path: Path) -> None:
    out = io.StringIO()
    target = tmp_path / "loss.png"
    result = run_demo(1, str(target), out=out, base_url=emulator.base_url, api_key="tml-demo-test", batch_size=1,
                      window=8, sample_tokens=4)
    if importlib.util.find_spec("matplotlib") is None:
        assert result.plot_path is None and "matplotlib is not installed" in out.getvalue()
        assert not target.exists()
    else:
        assert result.plot_path == str(target) and target.read_bytes().startswith(b"\x89PNG")


def test_tinkex_demo_runs_with_an_embedded_emulator() -> None:
    out = io.StringIO()
    assert main(["demo", "--steps", "2", "--batch-size", "2", "--window", "16"], stdout=out) == 0
    assert SUMMARY.search(out.getvalue()) and "at http://127.0.0.1:" in out.getvalue()


def test_summary_chart_and_progress_formatting() -> None:
    falling = DemoResult([4.0, 3.0], "", "", "tinker://r/sampler_weights/x")
    assert falling.summary() == "demo: loss 4.000 -> 3.000 (-25.0%)"
    assert DemoResult([2.0, 3.0], "", "", "").summary() == "demo: loss 2.000 -> 3.000 (+50.0%)"
    assert progress_line(3, 10, 2.5, width=10) == "[###.......]  3/10 loss 2.500"
    chart = ascii_chart([5.0, 4.0, 3.0, 2.0], height=4).splitlines()
    assert chart[0].startswith("   5.000 |*") and chart[3].endswith("*") and chart[3].startswith("   2.000 |")
    assert [line.count("*") for line in chart[:4]] == [1, 1, 1, 1]
    assert len(ascii_chart(list(range(500)), width=40).splitlines()[0]) <= 10 + 40


def test_windows_are_next_byte_prediction_pairs() -> None:
    corpus = load_corpus().encode()
    assert len(corpus) > 1000
    data = windows(corpus, 16, 3, np.random.default_rng(0))
    assert len(data) == 3
    for datum in data:
        inputs = datum.model_input.to_ints()
        targets = datum.loss_fn_inputs["target_tokens"].tolist()
        assert len(inputs) == len(targets) == 16 and inputs[1:] == targets[:-1]
        assert bytes(inputs) in corpus
