"""Handlers: model creation, training operations, weights, model info, unload."""

from __future__ import annotations

from collections.abc import Callable

from .checkpoints import parse_tinker_path
from .errors import ApiError, bad_field
from .fields import Fields
from .proto_wire import decode_forward, is_protobuf
from .replies import JsonReply, Reply
from .routes import Request, Route, Services
from .training import TrainingService, Work
from .wire import decode_adam, decode_datums, decode_lora, decode_loss


def _ttl(f: Fields) -> int | None:
    ttl = f.int_("ttl_seconds")
    if ttl is not None and ttl < 1:
        raise bad_field("ttl_seconds", "must be a positive integer")
    return ttl


def _ordered(s: Services, req: Request, endpoint: str, build: Callable[[Fields], Work]) -> Reply:
    """Envelope {model_id, seq_id, ...}: payload errors still occupy their seq_id (then 400)."""
    f = req.fields()
    model_id = f.req_str("model_id")
    seq_id = f.req_int("seq_id")
    work: Work | ApiError
    try:
        work = build(f)
    except ApiError as exc:
        work = exc
    request_id = s.training.submit(model_id, seq_id, endpoint, work)
    return JsonReply({"request_id": request_id, "model_id": model_id})


def create_model(s: Services, req: Request) -> Reply:
    """POST create_model → future {model_id, type}; answers {request_id, model_id}."""
    f = req.fields()
    session_id = f.req_str("session_id")
    seq = f.req_int("model_seq_id", minimum=0)
    base_model = f.req_str("base_model")
    optimizer = f.obj("optimizer_config")
    if optimizer is not None and optimizer.str_("type") not in (None, "adamw"):
        raise bad_field("optimizer_config.type", "the emulator implements AdamW only (adamw)")
    lora = decode_lora(f.obj("lora_config"), s.runtime.backend)
    model_id, request_id = s.training.create_model(session_id, seq, base_model, lora,
                                                   f.dict_("user_metadata"))
    return JsonReply({"request_id": request_id, "model_id": model_id})


def _forward(s: Services, req: Request, endpoint: str, key: str) -> Reply:
    backend = s.runtime.backend

    def build(f: Fields) -> Work:
        inner = f.req_obj(key)
        loss = decode_loss(inner, backend)
        datums = decode_datums(inner, loss, backend)
        backward = endpoint == "forward_backward" and not f.bool_("forward_only", False)
        return TrainingService.forward_work(datums, loss, backward)

    return _ordered(s, req, endpoint, build)


def forward(s: Services, req: Request) -> Reply:
    """POST forward {model_id, seq_id, forward_input: {data, loss_fn, loss_fn_config}}, or a
    protobuf ForwardBackwardRequest (evaluated without gradients whatever its forward_only)."""
    if is_protobuf(req.headers):
        return _forward_protobuf(s, req, force_forward=True)
    return _forward(s, req, "forward", "forward_input")


def forward_backward(s: Services, req: Request) -> Reply:
    """POST forward_backward {model_id, seq_id, forward_backward_input, forward_only?}, or the
    official SDK's protobuf ForwardBackwardRequest (optionally zstd)."""
    if is_protobuf(req.headers):
        return _forward_protobuf(s, req)
    return _forward(s, req, "forward_backward", "forward_backward_input")


def _forward_protobuf(s: Services, req: Request, *, force_forward: bool = False) -> Reply:
    """A protobuf body whose envelope is readable always takes its seq_id (a bad payload is
    recorded as a rejected slot, then answered 400), so later seq_ids never wait on a gap."""
    encoding = str(req.headers.get("Content-Encoding") or "")
    if s.official is not None:
        s.official.note_body(encoding)
    msg = decode_forward(req.body, encoding, s.runtime.backend)
    forward_only = msg.forward_only or force_forward
    work: Work | ApiError
    if msg.error is not None:
        work = msg.error
    else:
        assert msg.loss is not None
        work = TrainingService.forward_work(msg.datums, msg.loss, not forward_only)
    endpoint = "forward" if forward_only else "forward_backward"
    request_id = s.training.submit(msg.model_id, msg.seq_id, endpoint, work)
    return JsonReply({"request_id": request_id, "model_id": msg.model_id})


OPTIM_PARAM_FIELDS = ("adam_params", "optimizer_params", "optim_params")


def optim_step(s: Services, req: Request) -> Reply:
    """POST optim_step {model_id, seq_id, adam_params}: the step's parameters under one of
    ``adam_params``, ``optimizer_params`` (another family, with its ``type``) or tinker's
    ``optim_params`` (Adam's when it has no ``type``)."""
    def build(f: Fields) -> Work:
        given = [name for name in OPTIM_PARAM_FIELDS if f.raw(name) is not None]
        if len(given) > 1:
            raise bad_field(given[1], f"send the step's parameters once (also given: {given[0]})")
        if given == ["optimizer_params"]:
            raise bad_field("optimizer_params", "the emulator implements AdamW only (send adam_params)")
        if given == ["optim_params"]:
            params = f.req_obj("optim_params")
            kind = params.str_("type")
            if kind is not None and kind != "adamw":
                raise bad_field("optim_params.type", "the emulator implements AdamW only (Adam has no type)")
            return TrainingService.optim_work(decode_adam(params))
        return TrainingService.optim_work(decode_adam(f.req_obj("adam_params")))
    return _ordered(s, req, "optim_step", build)


def save_weights(s: Services, req: Request) -> Reply:
    """POST save_weights {model_id, seq_id, path: name, ttl_seconds?, overwrite?}."""
    return _ordered(s, req, "save_weights", lambda f: s.training.save_work(
        f.req_str("path"), _ttl(f), f.bool_("overwrite", True)))


def save_weights_for_sampler(s: Services, req: Request) -> Reply:
    """POST save_weights_for_sampler {model_id, seq_id, path?, sampling_session_seq_id?, ttl?}."""
    def build(f: Fields) -> Work:
        kind = f.str_("kind") or "snapshot"
        if kind not in ("snapshot", "inflight"):
            raise bad_field("kind", "must be snapshot or inflight")
        name = f.str_("path")
        seq = f.int_("sampling_session_seq_id", minimum=0)
        if name is None and seq is None:
            raise bad_field("path", "one of path or sampling_session_seq_id is required")
        if kind == "inflight" and seq is None:
            raise bad_field("kind", "inflight needs sampling_session_seq_id (an ephemeral sampler)")
        return s.training.save_for_sampler_work(name, seq, _ttl(f), f.bool_("overwrite", True),
                                                kind == "inflight")
    return _ordered(s, req, "save_weights_for_sampler", build)


def load_weights(s: Services, req: Request) -> Reply:
    """POST load_weights: {model_id, seq_id, path, optimizer} or session-addressed creation."""
    f = req.fields()
    if f.has("model_id") or not f.has("session_id"):
        def build(g: Fields) -> Work:
            if g.raw("optimizer_config") is not None:
                raise bad_field("optimizer_config", "only a load that creates its model (session_id, "
                                "model_seq_id) picks an optimizer; this model has one")
            return s.training.load_work(g.req_str("path"), g.bool_("optimizer", False))
        return _ordered(s, req, "load_weights", build)
    session_id = f.req_str("session_id")
    seq = f.req_int("model_seq_id", minimum=0)
    path = f.req_str("path")
    parse_tinker_path(path)
    optimizer = f.obj("optimizer_config")
    if optimizer is not None:
        if f.bool_("optimizer", False):
            raise bad_field("optimizer_config", "cannot override the optimizer state restored with optimizer=true")
        if optimizer.str_("type") not in (None, "adamw"):
            raise bad_field("optimizer_config.type", "the emulator implements AdamW only (adamw)")
    model_id, request_id = s.training.create_from_checkpoint(
        session_id, seq, f.str_("base_model"), path, f.bool_("optimizer", False),
        f.dict_("user_metadata"))
    return JsonReply({"request_id": request_id, "model_id": model_id})


def unload_model(s: Services, req: Request) -> Reply:
    """POST unload_model {model_id} → future {model_id, type}."""
    model_id = req.fields().req_str("model_id")
    return JsonReply({"request_id": s.training.unload(model_id), "model_id": model_id})


def get_info(s: Services, req: Request) -> Reply:
    """POST get_info {model_id} → GetInfoResponse (immediate)."""
    return JsonReply(s.training.info(req.fields().req_str("model_id")))


def weights_info(s: Services, req: Request) -> Reply:
    """POST weights_info {tinker_path} → WeightsInfoResponse."""
    path = req.fields().req_str("tinker_path")
    record = s.checkpoints.get(*parse_tinker_path(path, "tinker_path"))
    lora = record.model["lora"]
    return JsonReply({"base_model": record.model["base_model"], "is_lora": True,
                      "lora_rank": lora["rank"], "train_unembed": lora["train_unembed"],
                      "train_mlp": lora["train_mlp"], "train_attn": lora["train_attn"]})


ROUTES = [
    Route("POST", "api/v1/create_model", "create_model", create_model, replay=True),
    Route("POST", "api/v1/forward", "forward", forward, replay=True),
    Route("POST", "api/v1/forward_backward", "forward_backward", forward_backward, replay=True),
    Route("POST", "api/v1/optim_step", "optim_step", optim_step, replay=True),
    Route("POST", "api/v1/save_weights", "save_weights", save_weights, replay=True),
    Route("POST", "api/v1/save_weights_for_sampler", "save_weights_for_sampler",
          save_weights_for_sampler, replay=True),
    Route("POST", "api/v1/load_weights", "load_weights", load_weights, replay=True),
    Route("POST", "api/v1/unload_model", "unload_model", unload_model, replay=True),
    Route("POST", "api/v1/get_info", "get_info", get_info),
    Route("POST", "api/v1/weights_info", "weights_info", weights_info),
]
