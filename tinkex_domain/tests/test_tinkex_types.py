"""Unit tests of the Tinkex value types and their round trip through the manifest's type system."""

from __future__ import annotations

import base64

import attrs
import numpy as np
import pytest

from pristine_core import ValidationError, load_manifest
from pristine_core.typesystem import TypeRegistry
from tinkex_domain import types as T
from tinkex_domain.plugin import TinkexPlugin


@pytest.fixture(scope="module")
def registry() -> TypeRegistry:
    manifest = load_manifest(("tinkex_domain", "manifest.json"))
    return TypeRegistry(manifest.types, TinkexPlugin().pristine_type_classes(manifest=manifest))


def test_model_input_helpers() -> None:
    mi = T.ModelInput.from_ints([1, 2, 3])
    assert mi.to_ints() == [1, 2, 3]
    assert mi.length == 3
    grown = mi.append_int(4)
    assert grown.to_ints() == [1, 2, 3, 4] and len(grown.chunks) == 1
    assert mi.to_ints() == [1, 2, 3]  # immutable
    assert T.ModelInput.empty().length == 0
    assert T.ModelInput.empty().append_int(7).to_ints() == [7]


def test_image_chunks_count_expected_tokens_and_block_to_ints() -> None:
    img = T.ImageChunk(data=b"\x89PNG....", format="png", expected_tokens=5)
    mi = T.ModelInput.from_ints([1, 2]).append(img).append_int(9)
    assert mi.length == 2 + 5 + 1
    assert isinstance(mi.chunks[-1], T.EncodedTextChunk)  # a new text chunk after the image
    with pytest.raises(ValidationError, match="chunks\\[1\\]"):
        mi.to_ints()
    with pytest.raises(ValidationError, match="expected_tokens"):
        _ = T.ModelInput(chunks=[T.ImageChunk(data=b"x", format="jpeg")]).length
    with pytest.raises(ValidationError, match="format"):
        T.ImageChunk(data=b"x", format="gif")


def test_image_chunk_wire_is_base64_and_omits_missing_expected_tokens(registry: TypeRegistry) -> None:
    wire = registry.dump("ModelInput", T.ModelInput(chunks=[T.ImageChunk(data=b"\x00\x01", format="png")]))
    chunk = wire["chunks"][0]
    assert chunk == {"type": "image", "data": base64.b64encode(b"\x00\x01").decode(), "format": "png"}
    assert registry.parse("ModelInput", wire).chunks[0].data == b"\x00\x01"


def test_tensor_data_numpy_round_trip() -> None:
    arr = np.arange(6, dtype=np.float64).reshape(2, 3)
    td = T.TensorData.from_numpy(arr)
    assert td.dtype == "float32" and td.shape == (2, 3)
    back = td.to_numpy()
    assert back.dtype == np.float32 and back.shape == (2, 3)
    np.testing.assert_array_equal(back, arr.astype(np.float32))
    assert td.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    ints = T.TensorData.from_numpy(np.array([1, 2], dtype=np.int32))
    assert ints.dtype == "int64" and ints.to_numpy().dtype == np.int64
    with pytest.raises(ValidationError, match="data"):
        T.TensorData.from_numpy(np.array(["a"]))
    with pytest.raises(ValidationError, match="shape"):
        T.TensorData(data=[1, 2, 3], dtype="int64", shape=[2, 2])
    with pytest.raises(ValidationError, match="dtype"):
        T.TensorData(data=[1], dtype="float64")


def test_sparse_tensor_densifies() -> None:
    td = T.TensorData(
        data=[5.0, 7.0], dtype="float32", shape=[2, 3], sparse_crow_indices=[0, 1, 2], sparse_col_indices=[2, 0]
    )
    np.testing.assert_array_equal(td.to_numpy(), np.array([[0, 0, 5], [7, 0, 0]], dtype=np.float32))


def test_datum_coerces_known_keys_and_rejects_unknown_lists() -> None:
    d = T.Datum(
        model_input=T.ModelInput.from_ints([1, 2]),
        loss_fn_inputs={"target_tokens": [2, 3], "weights": [1, 0], "advantages": np.array([0.5, 0.5])},
    )
    assert d.loss_fn_inputs["target_tokens"].dtype == "int64"
    assert d.loss_fn_inputs["weights"].dtype == "float32"
    assert d.loss_fn_inputs["advantages"].dtype == "float32"
    with pytest.raises(ValidationError, match=r"loss_fn_inputs\.mask"):
        T.Datum(model_input=T.ModelInput.from_ints([1]), loss_fn_inputs={"mask": [1]})
    with pytest.raises(ValidationError, match="ragged"):
        T.Datum(model_input=T.ModelInput.from_ints([1]), loss_fn_inputs={"weights": [[1.0], [1.0, 2.0]]})
    assert T.Datum(model_input=[1, 2]).model_input.to_ints() == [1, 2]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"learning_rate": 0}, "learning_rate"),
        ({"beta1": 1.0}, "beta1"),
        ({"beta2": -0.1}, "beta2"),
        ({"eps": 0}, "eps"),
        ({"weight_decay": -1}, "weight_decay"),
        ({"grad_clip_norm": -1}, "grad_clip_norm"),
        ({"learning_rate": "fast"}, "learning_rate"),
    ],
)
def test_adam_params_validation_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        T.AdamParams(**kwargs)
    assert info.value.errors[0][0] == field


def test_adam_defaults_match_tinker() -> None:
    a = T.AdamParams()
    values = (a.learning_rate, a.beta1, a.beta2, a.eps, a.weight_decay, a.grad_clip_norm)
    assert values == (1e-4, 0.9, 0.95, 1e-12, 0, 0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"max_tokens": 0}, "max_tokens"), ({"temperature": -1}, "temperature"), ({"top_k": 0}, "top_k"),
     ({"top_p": 0}, "top_p"), ({"stop": 5}, "stop")],
)
def test_sampling_params_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        T.SamplingParams(**kwargs)
    assert info.value.errors[0][0] == field


def test_lora_config_defaults_and_rank() -> None:
    assert T.LoraConfig().rank == 32
    with pytest.raises(ValidationError, match="rank"):
        T.LoraConfig(rank=0)


def test_tinker_path_parsing() -> None:
    p = T.ParsedCheckpointTinkerPath.from_tinker_path("tinker://s:train:0/weights/step-1")
    assert (p.training_run_id, p.checkpoint_type, p.checkpoint_id) == ("s:train:0", "training", "weights/step-1")
    s = T.ParsedCheckpointTinkerPath.from_tinker_path("tinker://r/sampler_weights/x")
    assert s.checkpoint_type == "sampler"
    for bad in ("s3://r/weights/x", "tinker://r/weights", "tinker://r/other/x", "tinker://r/weights/x/y"):
        with pytest.raises(ValidationError, match="tinker_path"):
            T.ParsedCheckpointTinkerPath.from_tinker_path(bad)


def test_every_class_matches_its_manifest_type() -> None:
    manifest = load_manifest(("tinkex_domain", "manifest.json"))
    classes = TinkexPlugin().pristine_type_classes(manifest=manifest) or {}
    assert set(classes) == set(T.TYPE_CLASSES), "every Tinkex class names a manifest type"
    for name, cls in classes.items():
        props = set(manifest.types[name].properties)
        fields = {f.name for f in attrs.fields(cls)}
        assert props == fields, f"{name}: manifest {sorted(props ^ fields)} differ"


def test_request_dump_and_response_parse(registry: TypeRegistry) -> None:
    datum = T.Datum(model_input=T.ModelInput.from_ints([1, 2]), loss_fn_inputs={"target_tokens": [2, 3]})
    wire = registry.dump(
        "ForwardBackwardRequest",
        {"model_id": "m", "seq_id": 1, "forward_backward_input": {"data": [datum], "loss_fn": "cross_entropy"}},
    )
    tensor = wire["forward_backward_input"]["data"][0]["loss_fn_inputs"]["target_tokens"]
    assert tensor == {"data": [2, 3], "dtype": "int64", "shape": [2]}
    assert "loss_fn_config" not in wire["forward_backward_input"]
    with pytest.raises(ValidationError, match="loss_fn"):
        registry.dump("ForwardBackwardRequest", {"model_id": "m", "seq_id": 1,
                                                 "forward_backward_input": {"data": [datum], "loss_fn": "mse"}})
    out = registry.parse("SampleResponse", {
        "sequences": [{"tokens": [1], "logprobs": [-0.5], "stop_reason": "stop"}],
        "prompt_logprobs": [None, -1.0], "topk_prompt_logprobs": [None, [[3, -0.1]]], "unknown": 1,
    })
    assert isinstance(out, T.SampleResponse) and isinstance(out.sequences[0], T.SampledSequence)
    assert out.topk_prompt_logprobs == [None, [(3, -0.1)]]
    assert np.isnan(out.prompt_logprobs_np[0])


def test_ttl_null_is_sent_explicitly(registry: TypeRegistry) -> None:
    assert registry.dump("SetCheckpointTtlRequest", {"ttl_seconds": None}) == {"ttl_seconds": None}


def test_stream_chunk_from_event() -> None:
    tok = T.SampleStreamChunk.from_event("token", {"token": "a", "token_id": 97, "index": 0, "logprob": -0.2})
    assert tok.event_type == "token" and not tok.done
    done = T.SampleStreamChunk.from_event("done", {"finish_reason": "length", "total_tokens": 3})
    assert done.done and done.total_tokens == 3
