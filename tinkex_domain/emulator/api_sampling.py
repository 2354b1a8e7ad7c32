"""Handlers: sampling sessions, asample, stream_sample, sampler lookup."""

from __future__ import annotations

from .errors import bad_field
from .replies import JsonReply, Reply, SseReply
from .routes import Request, Route, Services
from .sampling import decode_sample_args


def create_sampling_session(s: Services, req: Request) -> Reply:
    """POST create_sampling_session {session_id, sampling_session_seq_id, base_model?, model_path?}."""
    f = req.fields()
    session_id = f.req_str("session_id")
    seq = f.req_int("sampling_session_seq_id", minimum=0)
    sampler = s.samplers.create(session_id, seq, f.str_("base_model"), f.str_("model_path"))
    return JsonReply({"sampling_session_id": sampler.sampler_id, "type": "create_sampling_session"})


def asample(s: Services, req: Request) -> Reply:
    """POST asample → future SampleResponse; answers {request_id}."""
    f = req.fields()
    args = decode_sample_args(f, s.runtime.backend.VOCAB_SIZE, s.config.max_tokens_limit)
    sampler = s.samplers.resolve(f)
    request_id = s.samplers.asample(sampler, args)
    official = s.official
    if official is not None and (official.flags.sample_use_retrieve_futures
                                 or official.future_log.polled(sampler.sampler_id)):
        official.future_log.register(sampler.sampler_id, f.int_("seq_id"), request_id)
    return JsonReply({"request_id": request_id, "sample_sequence_ids": [
        f"{request_id}:seq:{i}" for i in range(args.num_samples)]})


def stream_sample(s: Services, req: Request) -> Reply:
    """POST stream_sample → text/event-stream of token events then done (or error)."""
    f = req.fields()
    args = decode_sample_args(f, s.runtime.backend.VOCAB_SIZE, s.config.max_tokens_limit)
    if args.num_samples != 1:
        raise bad_field("num_samples", "stream_sample produces one sequence; must be 1")
    sampler = s.samplers.resolve(f)
    return SseReply(s.samplers.stream(sampler, args))


def get_sampler(s: Services, req: Request) -> Reply:
    """GET samplers/{sampler_id} → {sampler_id, base_model, model_path?}."""
    return JsonReply(s.samplers.get(req.params["sampler_id"]).to_json())


ROUTES = [
    Route("POST", "api/v1/create_sampling_session", "create_sampling_session",
          create_sampling_session, replay=True),
    Route("POST", "api/v1/asample", "asample", asample, replay=True),
    Route("POST", "api/v1/stream_sample", "stream_sample", stream_sample),
    Route("GET", "api/v1/samplers/{sampler_id}", "get_sampler", get_sampler),
]
