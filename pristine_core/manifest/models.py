"""The manifest's data model: frozen, slotted attrs classes.

A manifest is plain data; the core and the plugins interpret it. These classes hold only what
the core itself reads (endpoints, types, auth, defaults). Every other section and endpoint key
belongs to the plugin that declares it (``pristine_settings``); the loader structures it with
that plugin's classes into :attr:`Manifest.sections` and :attr:`Endpoint.settings`.
See ``docs/manifest.md`` for the format and ``manifest.schema.json`` for editors.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

import attrs

from pristine_core.contract import at_least, positive

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")

T = TypeVar("T")

#: A ``{name}`` / ``{+name}`` placeholder of an endpoint path (group 1: the text inside).
PATH_PARAM = re.compile(r"\{([^{}]*)\}")

#: Sentinel for "no default declared" in a type schema.
NO_DEFAULT: Any = attrs.make_class("NoDefault", [], slots=True, repr_ns=None)()


@attrs.frozen
class TypeSchema:
    """One type in the JSON-Schema subset the manifest uses (see ``docs/manifest.md``)."""

    type: Literal["object", "array", "string", "integer", "number", "boolean", "any"] | None = None
    ref: str | None = None
    description: str = ""
    properties: dict[str, TypeSchema] = attrs.Factory(dict)
    required: tuple[str, ...] = ()
    additional_properties: bool | TypeSchema = False
    items: TypeSchema | None = None
    enum: tuple[Any, ...] | None = None
    const: Any = NO_DEFAULT
    one_of: tuple[TypeSchema, ...] = ()
    discriminator: str | None = None
    nullable: bool = False
    explicit_null: bool = False
    default: Any = NO_DEFAULT
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    format: str | None = None


@attrs.frozen
class QueryParam:
    """A declared query parameter of an endpoint."""

    type: Literal["string", "integer", "number", "boolean"] = "string"
    default: Any = NO_DEFAULT
    required: bool = False
    description: str = ""


@attrs.frozen
class Endpoint:
    """One HTTP operation. ``name`` and ``resource`` are filled in by the loader."""

    method: str
    path: str
    name: str = ""
    resource: str = ""
    description: str = ""
    request: str | None = None
    response: str | None = None
    query: dict[str, QueryParam] = attrs.Factory(dict)
    headers: dict[str, str] = attrs.Factory(dict)
    pool: str | None = None
    timeout_s: float | None = attrs.field(default=None, validator=positive)
    #: Response size cap in bytes, enforced while reading (None: ``defaults.max_response_bytes``).
    max_response_bytes: int | None = attrs.field(default=None, validator=positive)
    redirects: Literal["follow", "return"] = "follow"
    auth: bool = True
    settings: dict[Any, Any] = attrs.field(factory=dict, eq=False, repr=False)

    def settings_of(self, cls: type[T]) -> T:
        """This endpoint's values of a plugin's per-endpoint settings class (defaults applied)."""
        found = self.settings.get(cls)
        return found if found is not None else default_of(cls)

    @property
    def qualified_name(self) -> str:
        """``resource.endpoint``, the name feature blocks use to refer to it."""
        return f"{self.resource}.{self.name}"

    @property
    def path_params(self) -> tuple[str, ...]:
        """The names of the ``{name}`` / ``{+name}`` placeholders of :attr:`path`, in order.

        ``{+name}`` is RFC 6570 reserved expansion: the value may contain ``/``.
        """
        return tuple(name.lstrip("+") for name in PATH_PARAM.findall(self.path))

    @property
    def reserved_params(self) -> frozenset[str]:
        """Path parameters declared ``{+name}`` (slashes kept)."""
        return frozenset(name[1:] for name in PATH_PARAM.findall(self.path) if name.startswith("+"))


_DEFAULTS: dict[type, Any] = {}


def default_of(cls: type[T]) -> T:
    """The all-defaults instance of a settings class, built once and shared (it is frozen)."""
    value = _DEFAULTS.get(cls)
    if value is None:
        value = _DEFAULTS[cls] = cls()
    return value  # type: ignore[no-any-return]


@attrs.frozen
class Auth:
    """How the API key travels: a header (``X-API-Key``) with an optional scheme prefix."""

    header: str = "Authorization"
    scheme: str = ""
    env: str | None = None
    key_prefixes: tuple[str, ...] = ()


@attrs.frozen
class Defaults:
    """Values every endpoint inherits unless it sets its own."""

    timeout_s: float = attrs.field(default=60.0, validator=positive)
    headers: dict[str, str] = attrs.Factory(dict)
    query: dict[str, str] = attrs.Factory(dict)
    pool: str | None = None
    #: Response size cap in bytes for every endpoint (``pristine_core.limits`` default when None).
    max_response_bytes: int | None = attrs.field(default=None, validator=positive)
    #: Worker threads of each client's scheduler (``client.meta.scheduler``); a client's
    #: ``config={"scheduler_workers": n}`` wins.
    scheduler_workers: int = attrs.field(default=8, validator=at_least(1))


@attrs.frozen
class Manifest:
    """A whole API: endpoints grouped by resource, types, and the plugins' sections.

    ``sections`` holds the structured sections of the plugins that declared them, by path
    (``"pools"``, ``"features.futures"``). ``unclaimed`` lists the paths of keys no plugin of
    the loading set declared (``pristine manifest validate`` reports them). ``data`` is the raw
    manifest, kept so that a client with another plugin set can structure it again.
    """

    name: str
    version: str = "0"
    description: str = ""
    base_url: str | None = None
    base_url_env: str | None = None
    auth: Auth | None = None
    defaults: Defaults = attrs.Factory(Defaults)
    resources: dict[str, dict[str, Endpoint]] = attrs.Factory(dict)
    types: dict[str, TypeSchema] = attrs.Factory(dict)
    sections: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)
    unclaimed: tuple[str, ...] = attrs.field(default=(), eq=False, repr=False)
    data: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)
    schema_key: Any = attrs.field(default=None, eq=False, repr=False)

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, resource by resource, in manifest order."""
        return [ep for group in self.resources.values() for ep in group.values()]

    def endpoint(self, qualified_name: str) -> Endpoint:
        """Look up ``resource.endpoint``; ``KeyError`` when absent."""
        resource, _, name = qualified_name.partition(".")
        return self.resources[resource][name]

    def section(self, path: str, default: Any = None) -> Any:
        """A plugin section structured by its declared class (``default`` when absent)."""
        return self.sections.get(path, default)

    def pool_for(self, endpoint: Endpoint) -> str:
        """The connection pool an endpoint routes to (its own, the default, or ``"default"``)."""
        return endpoint.pool or self.defaults.pool or "default"
