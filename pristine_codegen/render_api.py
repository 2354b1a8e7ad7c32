"""The generated resource modules, the typed client, the build-time configuration and ``__init__``."""

from __future__ import annotations

import importlib
from typing import Any

import attrs

from pristine_codegen.annotations import TypeMapper
from pristine_codegen.text import CodegenError, docstring, pascal, python_identifier
from pristine_core.manifest.models import NO_DEFAULT, Endpoint, Manifest, QueryParam
from pristine_core.typesystem.classes import attr_name

_QUERY_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
#: Attributes of the generated client that resources must not shadow.
CLIENT_ATTRIBUTES = frozenset({"runtime", "close", "wrap", "closed"})


@attrs.frozen
class Param:
    """One keyword parameter of a generated method: its Python name, wire name, annotation."""

    name: str
    wire: str
    annotation: str
    required: bool
    explicit_null: bool = False


def _import_block(groups: dict[str, set[str]]) -> list[str]:
    return [f"from {module} import {', '.join(sorted(names))}" for module, names in sorted(groups.items()) if names]


class ApiModules:
    """Renders everything but the types for ``manifest`` (types come from ``types_module``)."""

    def __init__(self, manifest: Manifest, mapper: TypeMapper, package: str, class_names: list[str]) -> None:
        self.manifest = manifest
        self.mapper = mapper
        self.package = package
        self.class_names = set(class_names)
        self.client_class = pascal(manifest.name) + "Client"

    # -- resources ------------------------------------------------------------------------

    def resource_class(self, resource: str) -> str:
        """The class name of ``resource``'s endpoint group."""
        return pascal(resource) + "Resource"

    def params(self, ep: Endpoint) -> list[Param]:
        """The keyword parameters of ``ep``: path, query, then request fields (or ``body``)."""
        where = f"resources.{ep.resource}.{ep.name}"
        out = [Param(python_identifier(p, f"{where}.path"), p, "str", True) for p in ep.path_params]
        for name, spec in ep.query.items():
            out.append(self._query_param(name, spec, where))
        if ep.request is not None:
            schema = self.manifest.types[ep.request]
            if self.mapper.is_class(ep.request):
                for prop, prop_schema in schema.properties.items():
                    if prop_schema.const is not NO_DEFAULT:
                        continue  # the runtime fills constants (tags) in
                    ann = self.mapper.annotation(prop_schema, param=True)
                    has_default = prop_schema.default is not NO_DEFAULT or prop_schema.const is not NO_DEFAULT
                    required = prop in schema.required and not has_default
                    out.append(Param(attr_name(prop), prop, ann, required, prop_schema.explicit_null))
            else:
                out.append(Param("body", "body", self.mapper.annotation(schema, param=True), True))
        seen: set[str] = set()
        for param in out:
            if param.name in seen or param.name == "request_options":
                raise CodegenError(f"{where}: two parameters are called {param.name!r}")
            seen.add(param.name)
        return out

    def _query_param(self, name: str, spec: QueryParam, where: str) -> Param:
        python_identifier(name, f"{where}.query")
        required = spec.required and spec.default is NO_DEFAULT
        return Param(name, name, _QUERY_TYPES[spec.type], required)

    def return_type(self, ep: Endpoint, imports: dict[str, set[str]]) -> str:
        """The annotation of ``ep``'s result; records the runtime classes it needs."""
        future, stream = _plugin_keys(ep)
        if future is not None and future.future:
            imports.setdefault("pristine_plugins.futures", set()).add("APIFuture")
            return f"APIFuture[{self._named(future.result)}]"
        if stream is not None and stream.stream:
            if stream.stream_format == "bytes":
                imports.setdefault("pristine_plugins.streaming", set()).add("ByteStream")
                return "ByteStream"
            imports.setdefault("pristine_plugins.streaming", set()).add("Stream")
            if stream.stream_event is None:
                imports["pristine_plugins.streaming"].add("SSEEvent")
                return "Stream[SSEEvent]"
            return f"Stream[{self._named(stream.stream_event)}]"
        if ep.response is None:
            return "Any"
        return self._named(ep.response)

    def _named(self, name: str | None) -> str:
        if name is None:
            return "Any"
        schema = self.manifest.types[name]
        return f"{name} | None" if schema.nullable else name

    def resource_module(self, resource: str) -> str:
        """Source of ``resources/<resource>.py``."""
        endpoints = self.manifest.resources[resource]
        imports: dict[str, set[str]] = {"pristine_core": {"Client", "RequestOptions"}}
        self.mapper.typing_names.clear()
        self.mapper.abc_names.clear()
        used: set[str] = set()
        methods = [self._method(ep, imports, used) for ep in endpoints.values()]
        used_types = sorted(used & set(self.manifest.types))
        typing_names = {"Any", "cast"} | self.mapper.typing_names
        abc_names = {"Mapping"} | self.mapper.abc_names
        lines = [
            docstring(f"Endpoints of the ``{resource}`` resource.", 0),
            "",
            "from __future__ import annotations",
            "",
        ]
        lines.append(f"from collections.abc import {', '.join(sorted(abc_names))}")
        typing_line = len(lines)
        lines.append("")
        runtime = f"{self.package}._runtime"
        lines += _import_block({"pristine_core": imports.pop("pristine_core"), runtime: imports.pop(runtime, set())})
        if used_types:
            lines.append(f"from {self.package}.types import {', '.join(used_types)}")
        if imports:
            # Result classes of feature plugins: for type checkers only, so that importing the
            # package does not require every plugin to be installed.
            typing_names.add("TYPE_CHECKING")
            lines += ["", "if TYPE_CHECKING:", *("    " + line for line in _import_block(imports))]
        lines.insert(typing_line, f"from typing import {', '.join(sorted(typing_names))}")
        cls = self.resource_class(resource)
        lines += ["", "", f"class {cls}:", docstring(f"``client.{resource}``: the endpoints of ``{resource}``.", 4)]
        lines += ["", "    def __init__(self, client: Client) -> None:", "        self._client = client", ""]
        lines += methods
        return "\n".join(lines).rstrip() + "\n"

    def _method(self, ep: Endpoint, imports: dict[str, set[str]], used: set[str]) -> str:
        name = python_identifier(ep.name, f"resources.{ep.resource}.{ep.name}")
        params = self.params(ep)
        result = self.return_type(ep, imports)
        for text in [result, *(p.annotation for p in params)]:
            used |= _words(text)
        args = ["self", "*"]
        for p in sorted(params, key=lambda p: not p.required):
            args.append(f"{p.name}: {p.annotation}" if p.required else f"{p.name}: {_optional(p.annotation)} = None")
        args.append("request_options: RequestOptions | Mapping[str, Any] | None = None")
        # Arguments left at None are not sent, so the runtime applies the manifest's defaults;
        # explicitly nullable fields that must travel as null are the exception.
        direct = [p for p in params if p.required or p.explicit_null]
        optional = [p for p in params if not (p.required or p.explicit_null)]
        plain = [f"{p.wire}={p.name}" for p in direct if p.wire == p.name]
        renamed = [f"{p.wire!r}: {p.name}" for p in direct if p.wire != p.name]
        call_args = ["request_options", *plain] + (["**{" + ", ".join(renamed) + "}"] if renamed else [])
        if optional:
            imports.setdefault(f"{self.package}._runtime", set()).add("given")
            pairs = ", ".join(f"{p.wire!r}: {p.name}" for p in optional)
            call_args.append("**given({" + pairs + "})")
        where = f"``{ep.method} {ep.path}`` ({ep.qualified_name})."
        doc = f"{ep.description}\n\n{where}" if ep.description else where
        return (
            f"    def {name}({', '.join(args)}) -> {result}:\n"
            f"{docstring(doc, 8)}\n"
            f"        method = self._client.meta.endpoint({ep.qualified_name!r})\n"
            f"        return cast({result!r}, method({', '.join(call_args)}))\n"
        )

    # -- client, build, package -----------------------------------------------------------

    def client_module(self) -> str:
        """Source of ``client.py``: the typed client over ``pristine_core.Client``."""
        lines = [
            docstring(f"``{self.client_class}``: a typed client of the ``{self.manifest.name}`` API.", 0),
            "",
            "from __future__ import annotations",
            "",
            "from typing import Any",
            "",
            "from pristine_core import Client",
            f"from {self.package}._build import BUILD",
        ]
        resources = list(self.manifest.resources)
        for r in resources:
            if r in CLIENT_ATTRIBUTES:
                raise CodegenError(f"resources.{r}: the name is reserved by the generated client")
            python_identifier(r, f"resources.{r}")
            lines.append(f"from {self.package}.resources.{r} import {self.resource_class(r)}")
        doc = (
            f"The {self.manifest.name} API with typed methods: ``client.<resource>.<endpoint>(...)``.\n\n"
            "Keyword arguments go to :class:`pristine_core.Client` (``plugins``, ``config``, ``clock``...);\n"
            "the runtime client is :attr:`runtime`. The manifest, its type classes and its endpoint table\n"
            "come from the generated package, so the runtime neither builds classes nor re-validates the\n"
            "manifest for each client."
        )
        lines += ["", "", f"class {self.client_class}:", docstring(doc, 4), ""]
        lines.append(
            "    def __init__(\n"
            "        self, *, base_url: str | None = None, api_key: str | None = None, **client_kwargs: Any\n"
            "    ) -> None:"
        )
        lines.append("        self._attach(BUILD.client(base_url=base_url, api_key=api_key, **client_kwargs))")
        lines += ["", "    @classmethod", f"    def wrap(cls, runtime: Client) -> {self.client_class}:"]
        lines.append(docstring("A typed face over an existing runtime client of the same manifest.", 8))
        lines += [
            "        BUILD.check(runtime)",
            "        self = cls.__new__(cls)",
            "        self._attach(runtime)",
            "        return self",
            "",
        ]
        lines += ["    def _attach(self, runtime: Client) -> None:", "        self.runtime = runtime"]
        for r in resources:
            lines.append(f"        self.{r} = {self.resource_class(r)}(runtime)")
        lines += [
            "",
            "    @property",
            "    def closed(self) -> bool:",
            docstring("True once :meth:`close` has run.", 8),
            "        return self.runtime.meta.closed",
            "",
            "    def close(self) -> None:",
            docstring("Close the runtime client (plugins stop, connections close). Idempotent.", 8),
            "        self.runtime.close()",
            "",
            f"    def __enter__(self) -> {self.client_class}:",
            "        return self",
            "",
            "    def __exit__(self, *exc_info: object) -> None:",
            "        self.close()",
            "",
            "    def __repr__(self) -> str:",
            f'        return f"<{self.client_class} {{self.runtime.meta.base_url}}>"',
            "",
        ]
        return "\n".join(lines)

    def build_module(self, data: dict[str, Any], sha256: str) -> str:
        """Source of ``_build.py``: the validated manifest, its type classes and endpoint table."""
        table = "".join(
            f"    {ep.qualified_name!r}: ({ep.method!r}, {ep.path!r}, {_kind(ep)!r}),\n"
            for ep in self.manifest.endpoints()
        )
        return "\n".join(
            [
                docstring("Build-time configuration: what the runtime would otherwise compute per client.", 0),
                "",
                "from __future__ import annotations",
                "",
                "from typing import Any",
                "",
                f"from {self.package}._runtime import Build",
                f"from {self.package}.types import TYPE_CLASSES",
                "",
                "#: The manifest, validated when this package was generated.",
                f"MANIFEST: dict[str, Any] = {data!r}",
                "",
                "#: ``resource.endpoint`` -> (HTTP method, path, kind: call, future or stream).",
                "ENDPOINTS: dict[str, tuple[str, str, str]] = {\n" + table + "}",
                "",
                "#: Builds runtime clients from the above (the manifest is structured once per process).",
                f"BUILD = Build(package={self.package!r}, manifest=MANIFEST, sha256={sha256!r}, "
                "type_classes=TYPE_CLASSES, endpoints=ENDPOINTS)",
                "",
            ]
        )

    def init_module(self) -> str:
        """Source of ``__init__.py``."""
        doc = (
            f"Typed Python API of the ``{self.manifest.name}`` manifest (generated by ``pristine codegen``).\n\n"
            f"``{self.client_class}`` is the client; ``types`` holds the manifest's types."
        )
        return "\n".join(
            [
                docstring(doc, 0),
                "",
                f"from {self.package} import types",
                f"from {self.package}._build import BUILD",
                f"from {self.package}.client import {self.client_class}",
                "",
                f"__all__ = ['BUILD', {self.client_class!r}, 'types']",
                "",
            ]
        )


def _plugin_keys(ep: Endpoint) -> tuple[Any, Any]:
    """The futures and streaming plugins' endpoint keys of ``ep`` (None when not installed)."""
    found: list[Any] = []
    for module, name in (("pristine_plugins.futures.settings", "FuturesEndpoint"),
                         ("pristine_plugins.streaming.settings", "StreamingEndpoint")):
        try:
            cls = getattr(importlib.import_module(module), name)
        except ImportError:
            found.append(None)
            continue
        found.append(ep.settings_of(cls))
    return found[0], found[1]


def _kind(ep: Endpoint) -> str:
    future, stream = _plugin_keys(ep)
    if future is not None and future.future:
        return "future"
    return "stream" if stream is not None and stream.stream else "call"


def _optional(annotation: str) -> str:
    return annotation if annotation.endswith("| None") or annotation == "Any" else f"{annotation} | None"


def _words(text: str) -> set[str]:
    word = []
    out: set[str] = set()
    for ch in text + " ":
        if ch.isalnum() or ch == "_":
            word.append(ch)
        elif word:
            out.add("".join(word))
            word = []
    return out
