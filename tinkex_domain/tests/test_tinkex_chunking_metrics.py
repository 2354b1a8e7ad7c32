"""Unit tests of chunking, byte estimates and the chunked-metric reduction rules."""

from __future__ import annotations

import numpy as np
import pytest

from tinkex_domain.chunking import MAX_CHUNK_LEN, chunk_data, datum_bytes, prompt_bytes
from tinkex_domain.metrics_reduction import combine_forward_backward_results, hash_unordered, reduce_metrics
from tinkex_domain.types import Datum, ForwardBackwardOutput, ImageChunk, ModelInput, TensorData


def _datum(n_tokens: int) -> Datum:
    tokens = list(range(n_tokens))
    return Datum(model_input=ModelInput.from_ints(tokens), loss_fn_inputs={"target_tokens": tokens})


def test_datum_byte_estimate() -> None:
    d = Datum(
        model_input=ModelInput.from_ints([1, 2, 3]).append(ImageChunk(data=b"12345", format="png", expected_tokens=2)),
        loss_fn_inputs={"target_tokens": [1, 2, 3, 4, 5], "weights": [1.0] * 5},
    )
    # 4 bytes per text token + raw image bytes + int64/float32 tensor sizes
    assert datum_bytes(d) == 4 * 3 + 5 + 8 * 5 + 4 * 5
    assert prompt_bytes(ModelInput.from_ints([1, 2, 3])) == 30


def test_chunking_by_count_keeps_order() -> None:
    data = [_datum(2) for _ in range(3000)]
    chunks = chunk_data(data)
    assert [len(c) for c in chunks] == [MAX_CHUNK_LEN, MAX_CHUNK_LEN, 3000 - 2 * MAX_CHUNK_LEN]
    assert [d for c in chunks for d in c] == data


def test_chunking_by_bytes_and_oversized_datum() -> None:
    data = [_datum(10) for _ in range(5)]
    size = datum_bytes(data[0])
    chunks = chunk_data(data, max_len=100, max_bytes=2 * size)
    assert [len(c) for c in chunks] == [2, 2, 1]
    huge = chunk_data([_datum(50), _datum(1)], max_bytes=10)
    assert [len(c) for c in huge] == [1, 1]


def test_reductions() -> None:
    chunks = [({"loss:mean": 1.0, "g:sum": 10.0, "lo:min": 3.0, "hi:max": 1.0, "s:slack": 1.0, "id:unique": 7.0}, 1),
              ({"loss:mean": 3.0, "g:sum": 20.0, "lo:min": 2.0, "hi:max": 5.0, "s:slack": 3.0, "id:unique": 8.0}, 3)]
    out = reduce_metrics(chunks)
    assert out["loss:mean"] == pytest.approx(2.5)  # (1*1 + 3*3) / 4
    assert out["g:sum"] == 30.0
    assert out["lo:min"] == 2.0 and out["hi:max"] == 5.0
    assert out["s:slack"] == pytest.approx(3.0 - 2.5)
    assert out["id:unique"] == 7.0 and out["id:unique_2"] == 8.0


def test_keys_from_first_chunk_only_and_missing_skipped() -> None:
    out = reduce_metrics([({"a:sum": 1.0}, 1), ({"a:sum": 2.0, "b:sum": 5.0}, 1), ({}, 1)])
    assert out == {"a:sum": 3.0}


def test_unknown_reduction_is_weighted_mean_and_zero_weight_mean_is_zero() -> None:
    assert reduce_metrics([({"x:weird": 2.0}, 1), ({"x:weird": 4.0}, 1)]) == {"x:weird": 3.0}
    assert reduce_metrics([({"m:mean": 2.0}, 0)]) == {"m:mean": 0.0}


def test_hash_unordered_ignores_order() -> None:
    assert hash_unordered([1.0, 2.0, 3.0]) == hash_unordered([3.0, 1.0, 2.0])
    assert hash_unordered([1.0, 2.0]) != hash_unordered([1.0, 2.5])
    out = reduce_metrics([({"h:hash_unordered": 1.0}, 1), ({"h:hash_unordered": 2.0}, 1)])
    assert out["h:hash_unordered"] == hash_unordered([2.0, 1.0])


def test_combine_outputs_concatenates_in_order() -> None:
    def out(values: list[float], loss: float) -> ForwardBackwardOutput:
        return ForwardBackwardOutput(
            loss_fn_outputs=[{"logprobs": TensorData.from_numpy(np.array([v], dtype=np.float32))} for v in values],
            metrics={"loss:sum": loss},
        )

    combined = combine_forward_backward_results([out([1.0], 1.0), out([2.0, 3.0], 2.0)])
    assert [o["logprobs"].tolist() for o in combined.loss_fn_outputs] == [[1.0], [2.0], [3.0]]
    assert combined.metrics == {"loss:sum": 3.0}
    with pytest.raises(ValueError):
        combine_forward_backward_results([])


def test_disagreeing_output_types_are_a_structured_warning() -> None:
    """The domain logs through ``pristine_core.logs``: structlog events when structlog is set up."""
    from structlog.testing import capture_logs

    def out(kind: str) -> ForwardBackwardOutput:
        return ForwardBackwardOutput(loss_fn_output_type=kind, loss_fn_outputs=[], metrics={})

    with capture_logs() as logs:
        combined = combine_forward_backward_results([out("a"), out("b")])
    assert combined.loss_fn_output_type == "a"
    assert logs == [
        {
            "event": "tinkex.chunks.loss_fn_output_type_mismatch",
            "kept": "a",
            "seen": ["a", "b"],
            "log_level": "warning",
        }
    ]
