"""The OpenTelemetry plugin against a loopback server, spans caught by the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from pristine_core import Client
from pristine_core.errors import APIStatusError, ManifestError, ValidationError
from pristine_plugins.otel import OtelPlugin, OtelSettings
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply

ENV = "PT_OTEL_PROPAGATE"


def _manifest(block: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": "oteltest",
        "base_url": "http://127.0.0.1:9",
        "resources": {
            "models": {
                "get": {"method": "GET", "path": "/models/{id}"},
                "fail": {"method": "POST", "path": "/fail"},
            }
        },
        "features": {"otel": block if block is not None else {"propagate_env": ENV}},
    }


def _handler(request: SeenRequest) -> Reply:
    if request.path == "/fail":
        return json_reply({"detail": "no"}, status=404)
    return json_reply({"ok": True})


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(_handler) as srv:
        yield srv


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def _client(server: LoopbackServer, exporter: InMemorySpanExporter, **kwargs: Any) -> Client:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    doc = kwargs.pop("doc", None) or _manifest()
    return Client(doc, base_url=server.url, plugins=[OtelPlugin(provider)], autoload_plugins=False, **kwargs)


def test_one_span_per_call_and_traceparent_on_the_wire(
    server: LoopbackServer, exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "true")
    with _client(server, exporter) as client:
        for i in range(3):
            client.models.get(id=str(i))
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["models.get"] * 3
    assert len(server.requests) == 3
    for span, seen in zip(spans, server.requests, strict=True):
        assert span.kind is SpanKind.CLIENT
        assert span.attributes is not None
        assert span.attributes["pristine.endpoint"] == "models.get"
        assert span.attributes["http.response.status_code"] == 200
        ctx = span.get_span_context()
        assert seen.header("traceparent") == f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"


def test_propagation_is_off_by_default(server: LoopbackServer, exporter: InMemorySpanExporter,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    with _client(server, exporter) as client:
        client.models.get(id="1")
    assert len(exporter.get_finished_spans()) == 1
    assert server.requests[0].header("traceparent") is None


def test_client_config_wins_over_the_environment(server: LoopbackServer, exporter: InMemorySpanExporter,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "1")
    with _client(server, exporter, config={"otel": {"propagate": False}}) as client:
        client.models.get(id="1")
    assert server.requests[0].header("traceparent") is None


def test_a_caller_traceparent_is_kept(server: LoopbackServer, exporter: InMemorySpanExporter) -> None:
    mine = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"
    with _client(server, exporter, config={"otel": {"propagate": True}}) as client:
        client.models.get(id="1", request_options={"headers": {"traceparent": mine}})
    assert server.requests[0].header("traceparent") == mine


def test_error_status_marks_the_span(server: LoopbackServer, exporter: InMemorySpanExporter) -> None:
    with _client(server, exporter) as client, pytest.raises(APIStatusError):
        client.models.fail()
    (span,) = exporter.get_finished_spans()
    assert span.name == "models.fail" and span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 404


def test_bad_environment_value_names_the_variable(server: LoopbackServer, exporter: InMemorySpanExporter,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "sometimes")
    with pytest.raises(ValidationError) as info:
        _client(server, exporter)
    assert ENV in str(info.value)


def test_bad_block_names_its_path(server: LoopbackServer, exporter: InMemorySpanExporter) -> None:
    with pytest.raises(ManifestError) as info:
        _client(server, exporter, doc=_manifest({"propagate": "yes", "colour": 1}))
    assert "features.otel.propagate" in str(info.value) and "features.otel.colour" in str(info.value)


def test_switched_off_no_spans(server: LoopbackServer, exporter: InMemorySpanExporter) -> None:
    with _client(server, exporter, config={"otel": False}) as client:
        client.models.get(id="1")
    assert exporter.get_finished_spans() == ()
    assert OtelSettings.build({}, False).enabled is False


def test_without_an_sdk_no_span_is_built_and_the_current_context_still_propagates(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No provider given and none installed globally: the plugin skips the (no-op) span, and a
    context the application made current still reaches the wire, exactly as through a no-op span."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        pytest.skip("a global tracer provider is installed in this process")
    built: list[str] = []
    real_get_tracer = trace.get_tracer

    def counting_get_tracer(*args: Any, **kwargs: Any) -> Any:
        tracer = real_get_tracer(*args, **kwargs)
        real_start = tracer.start_as_current_span

        def start(name: str, *a: Any, **kw: Any) -> Any:
            built.append(name)
            return real_start(name, *a, **kw)

        tracer.start_as_current_span = start  # type: ignore[method-assign]
        return tracer

    monkeypatch.setattr(trace, "get_tracer", counting_get_tracer)
    parent = SpanContext(trace_id=0x1234, span_id=0x5678, is_remote=True, trace_flags=TraceFlags(1))
    doc = _manifest({"propagate": True})
    with Client(doc, base_url=server.url, plugins=[OtelPlugin()], autoload_plugins=False) as client:
        client.models.get(id="1")
        with trace.use_span(NonRecordingSpan(parent)):
            client.models.get(id="2")
    assert built == []
    assert server.requests[0].header("traceparent") is None
    assert server.requests[1].header("traceparent") == f"00-{0x1234:032x}-{0x5678:016x}-01"
