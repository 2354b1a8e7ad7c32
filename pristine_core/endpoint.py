"""Endpoint methods: bind arguments, validate, build the request, run the pipeline."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pristine_core import responses as response_handling
from pristine_core.errors import ValidationError
from pristine_core.manifest.models import NO_DEFAULT, Endpoint
from pristine_core.pipeline import CORE_OPTIONS, Call, EncodedBody, Request, RequestOptions, Response

if TYPE_CHECKING:
    from pristine_core.client import Client


def _options(value: RequestOptions | Mapping[str, Any] | None) -> RequestOptions:
    """A :class:`RequestOptions`; in the dict form, keys the core does not own are plugin options."""
    if value is None:
        return _NO_OPTIONS
    if isinstance(value, RequestOptions):
        return value
    if not isinstance(value, Mapping):
        raise ValidationError([("request_options", "expected RequestOptions or an object")])
    core = {k: v for k, v in value.items() if k in CORE_OPTIONS}
    plugin = {k: v for k, v in value.items() if k not in CORE_OPTIONS}
    if plugin:
        core["extensions"] = {**dict(core.get("extensions") or {}), **plugin}
    return RequestOptions(**core)


_NO_OPTIONS = RequestOptions()


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_query_value(v) for v in value)
    return str(value)


#: The Python types a query parameter of each manifest type accepts (never a bool for a number).
_QUERY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


class EndpointMethod:
    """``client.<resource>.<endpoint>``: call it for the typed result, ``.raw(...)`` for the
    :class:`~pristine_core.pipeline.Response`."""

    def __init__(self, client: Client, endpoint: Endpoint) -> None:
        self.client = client
        self.pipeline = client.meta.pipeline
        self.endpoint = endpoint
        self._path_params = endpoint.path_params
        self._reserved = endpoint.reserved_params
        self._path = endpoint.path
        self._query_defaults = {n: spec.default for n, spec in endpoint.query.items() if spec.default is not NO_DEFAULT}
        self._default_pool = client.meta.manifest.defaults.pool or "default"
        self.__doc__ = endpoint.description or f"{endpoint.method} {endpoint.path}"
        self.__name__ = endpoint.name

    def __repr__(self) -> str:
        return f"<endpoint {self.endpoint.qualified_name}: {self.endpoint.method} {self.endpoint.path}>"

    def __call__(self, request_options: RequestOptions | Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        call = self.prepare(_options(request_options), kwargs)
        response = self.pipeline.execute(call, self.build_request(call))
        return response_handling.finish(call, response)

    def raw(self, request_options: RequestOptions | Mapping[str, Any] | None = None, **kwargs: Any) -> Response:
        """Make the call and return the response itself (any status), not the parsed result."""
        call = self.prepare(_options(request_options), kwargs)
        return self.pipeline.execute(call, self.build_request(call))

    def prepare(self, options: RequestOptions, kwargs: dict[str, Any]) -> Call:
        """Bind and validate arguments into a :class:`Call` ready to send; no network."""
        ep = self.endpoint
        path_params: dict[str, Any] = {}
        query: dict[str, Any] = {}
        body: Any = kwargs.pop("body", None) if ep.request is not None else None
        fields: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        for name, value in kwargs.items():
            if name in self._path_params:
                path_params[name] = value
            elif name in ep.query:
                query[name] = value
            elif ep.request is not None:
                fields[name] = value
            else:
                errors.append((name, "unexpected argument"))
        if errors:
            raise ValidationError(errors, ep.qualified_name)
        if fields:
            if body is None:
                body = fields
            elif isinstance(body, Mapping):
                body = {**body, **fields}
            else:
                raise ValidationError([("body", "pass either body= or field arguments, not both")], ep.qualified_name)
        pipeline = self.pipeline
        plugin_options: Mapping[Any, Any] = {}
        if options.extensions:
            plugin_options, problems = self.client.meta.schema.structure_options(options.extensions)
            if problems:
                raise ValidationError(problems, ep.qualified_name)
        call = Call(
            client=self.client,
            endpoint=ep,
            path_params=path_params,
            query=query,
            headers={},
            body=body if body is not None else ({} if ep.request is not None else None),
            options=options,
            plugin_options=plugin_options,
        )
        route = call.route = pipeline.route(call)
        prepare_call = route.hooks.prepare_call
        if prepare_call is not None:
            prepare_call(call)
        self._validate(call)
        call.encoded = self._encode(call)
        return call

    def _validate(self, call: Call) -> None:
        ep = self.endpoint
        errors: list[tuple[str, str]] = []
        for name in self._path_params:
            value = call.path_params.get(name)
            if value is None or value == "":
                errors.append((name, "required path parameter is missing"))
            elif not isinstance(value, (str, int)) or isinstance(value, bool):
                errors.append((name, "path parameters must be strings or integers"))
            elif name in self._reserved and any(seg in ("", ".", "..") for seg in str(value).split("/")):
                errors.append((name, "must not contain empty, '.' or '..' segments"))
        for name, spec in ep.query.items():
            value = call.query.get(name)
            if value is None:
                if spec.required and spec.default is NO_DEFAULT:
                    errors.append((name, "required query parameter is missing"))
                continue
            kind = spec.type
            if not isinstance(value, _QUERY_TYPES[kind]) or (isinstance(value, bool) and kind != "boolean"):
                errors.append((name, f"expected {'an' if kind == 'integer' else 'a'} {kind}"))
        if errors:
            raise ValidationError(errors, ep.qualified_name)
        if ep.request is not None:
            call.wire_body = self.client.meta.types.dump(ep.request, call.body)

    def _encode(self, call: Call) -> EncodedBody | None:
        encode_body = call.route.hooks.encode_body
        if encode_body is not None:
            encoded = encode_body(call)
            if encoded is not None:
                return encoded  # type: ignore[no-any-return]
        if call.wire_body is None:
            return None
        data = json.dumps(call.wire_body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return EncodedBody(data, "application/json", len(data))

    def build_request(self, call: Call) -> Request:
        """The first attempt's :class:`Request` for a prepared call."""
        pipeline = self.pipeline
        ep = self.endpoint
        path = self._path
        for name in self._path_params:
            value = str(call.path_params[name])
            reserved = name in self._reserved
            if not (value.isascii() and value.isalnum()):  # letters and digits need no quoting
                value = urllib.parse.quote(value, safe="/" if reserved else "")
            path = path.replace(("{+" if reserved else "{") + name + "}", value)
        url = pipeline.base_url + path
        if pipeline.default_query or ep.query or call.query or call.options.query:
            params = {**pipeline.default_query, **self._query_defaults, **call.query, **call.options.query}
            pairs = [(k, _query_value(v)) for k, v in params.items() if v is not None]
            if pairs:
                url += ("&" if "?" in url else "?") + urllib.parse.urlencode(pairs)
        headers = pipeline.headers(ep.auth)
        if ep.headers:  # each `if` spares an update of an empty mapping, the common case
            headers.update(ep.headers)
        if call.headers:
            headers.update(call.headers)
        if call.options.headers:
            headers.update(call.options.headers)
        body = None
        size = 0
        if call.encoded is not None:
            body = call.encoded.data
            size = call.encoded.length or (len(body) if isinstance(body, (bytes, bytearray)) else 0)
            if call.encoded.content_type:
                headers["Content-Type"] = call.encoded.content_type
        estimate_bytes = call.route.hooks.estimate_bytes
        if estimate_bytes is not None:
            estimate = estimate_bytes(call)
            if estimate is not None:
                size = int(estimate)
        # An explicit timeout (per call, per endpoint, per client) bounds the whole logical call;
        # the manifest-wide default only bounds each attempt.
        call_timeout = call.options.timeout_s or ep.timeout_s or pipeline.call_timeout_s
        timeout = call_timeout or pipeline.timeout_s
        call.started = time.perf_counter()
        return Request(
            method=ep.method,
            url=url,
            headers=headers,
            body=body,
            timeout_s=timeout,
            pool=call.options.pool or ep.pool or self._default_pool,
            stream=call.stream,
            allow_redirects=ep.redirects == "follow",
            call=call,
            byte_size=size,
            deadline=pipeline.clock.monotonic() + call_timeout if call_timeout else None,
        )
