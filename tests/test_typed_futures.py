"""``APIFuture[T]``: Tinkex methods return precisely typed futures that ``mypy --strict`` checks.

A small user script is type-checked twice: with right result types it passes; with a wrong one
(``str`` for a metrics dict, ``int`` for a sample response) mypy reports the error.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy (lint extra) runs the check")

ROOT = Path(__file__).resolve().parents[1]
HEADER = """\
from tinkex_domain import ServiceClient, types
from tinkex_domain import APIFuture


def run(service: ServiceClient, datum: types.Datum) -> None:
    training = service.create_lora_training_client("tinkex/tiny-byte-lm", rank=2)
    fwd: APIFuture[types.ForwardBackwardOutput] = training.forward_backward([datum], "cross_entropy")
    sampler = training.save_weights_and_get_sampling_client()
    prompt = types.ModelInput.from_ints([1, 2, 3])
"""

RIGHT = """\
    metrics: dict[str, float] = fwd.result().metrics
    step: types.OptimStepResponse = training.optim_step(types.AdamParams()).result()
    sample: types.SampleResponse = sampler.sample(prompt, 1, types.SamplingParams()).result()
    logprobs: list[float | None] = sampler.compute_logprobs(prompt).result()
    path: str = service.copy_weights("tinker://r/weights/a").result()
"""

WRONG = """\
    metrics: str = fwd.result().metrics
    sample: int = sampler.sample(prompt, 1, types.SamplingParams()).result()
"""


def test_right_result_types_pass_and_wrong_ones_fail(tmp_path: Path) -> None:
    right, wrong = tmp_path / "right_script.py", tmp_path / "wrong_script.py"
    right.write_text(HEADER + RIGHT)
    wrong.write_text(HEADER + WRONG)
    # One mypy run checks both scripts; the repository root is the import root (editable installs).
    command = [
        sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file", "/dev/null",
        "--explicit-package-bases", "--namespace-packages", "--ignore-missing-imports",
        "--follow-imports=silent", "--cache-dir", str(tmp_path / "cache"), str(right), str(wrong),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert done.returncode == 1, done.stdout + done.stderr
    assert not [e for e in errors if "right_script.py" in e], done.stdout
    assert len(errors) == 2, done.stdout
    assert 'expression has type "dict[str, float]", variable has type "str"' in errors[0]
    assert 'expression has type "SampleResponse", variable has type "int"' in errors[1]
