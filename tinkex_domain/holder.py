"""The connection the clients of one ServiceClient share: a Pristine client on the Tinker manifest.

Everything transport-related (retries, pools, session and heartbeats, future polling,
telemetry) comes from the Pristine plugins the manifest enables; this module only builds the
client, passes Tinkex's settings in its ``config`` and reads the session the session plugin made.
The client is built from the package ``pristine codegen`` generated from the manifest
(``tinkex_domain._generated``): its classes and validated manifest are reused by every client.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any, TypeVar

# The hand-written types initialise before the generated module that imports them (the package
# exports are lazy, so nothing else guarantees the order).
import tinkex_domain.types  # noqa: F401
from pristine_core import Client, PristineError, RequestOptions
from pristine_core.config import env_list, env_str
from pristine_core.errors import APIStatusError
from pristine_core.logs import get_logger
from pristine_plugins.futures import APIFuture
from pristine_runtime.aio import run_off_loop, wait_future
from pristine_runtime.tenancy import key_digest
from tinkex_domain._generated import BUILD
from tinkex_domain.plugin import TinkexPlugin

MANIFEST = ("tinkex_domain", "manifest.json")
PROJECT_ENV = "TINKER_PROJECT_ID"
TAGS_ENV = "TINKER_TAGS"
#: Plugins Tinkex cannot work without: futures resolve training/sampling calls, session owns ids.
REQUIRED_PLUGINS = ("futures", "session")
T = TypeVar("T")
log = get_logger(__name__)


@functools.lru_cache(maxsize=1)
def generated_is_fresh() -> bool:
    """True when ``tinkex_domain._generated`` was generated from the manifest shipped beside it.

    A stale package (the manifest was edited without running ``pristine codegen``) is not used:
    clients are then built from the manifest at run time, and a warning says how to regenerate.
    """
    data = resources.files(MANIFEST[0]).joinpath(MANIFEST[1]).read_bytes()
    fresh = hashlib.sha256(data).hexdigest() == BUILD.sha256
    if not fresh:
        log.warning(
            "tinkex.generated_stale",
            hint="run: pristine codegen manifest.json --package tinkex_domain._generated --out .",
        )
    return fresh
#: Sent as ``sdk_version`` in ``client/config``.
SDK_VERSION = "tinkex"


def _with_domain_plugin(plugins: Iterable[Any] | None, disabled: Iterable[str] | None) -> tuple[list[Any], list[str]]:
    """Register the Tinkex domain plugin explicitly (installed or not) instead of through its
    entry point, unless the caller passed a plugin object of that name."""
    items = list(plugins) if plugins is not None else []
    names = [item for item in items if isinstance(item, str)]
    objects = [item for item in items if not isinstance(item, str)]
    if not any(getattr(obj, "name", None) == TinkexPlugin.name for obj in objects):
        objects.append(TinkexPlugin())
    deny = [*list(disabled or ()), TinkexPlugin.name]
    # An allow-list of names stays an allow-list; objects are always registered.
    return [*names, *objects], deny


class Holder:
    """Owns one :class:`pristine_core.Client`; clients call endpoints through :meth:`call`.

    ``session_id`` joins an existing session (an unpickled sampling client) instead of creating
    one. ``client_kwargs`` go to :class:`pristine_core.Client` (``plugins``, ``clock``,
    ``timeout_s``, ``default_headers``, ``config``...).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        project_id: str | None = None,
        tags: Iterable[str] | None = None,
        session_id: str | None = None,
        **client_kwargs: Any,
    ) -> None:
        environ = client_kwargs.get("environ")
        config: dict[str, Any] = dict(client_kwargs.pop("config", None) or {})
        config.setdefault("user_metadata", dict(user_metadata or {}))
        if user_metadata:
            config.setdefault("event_metadata", {"user_metadata": dict(user_metadata)})
        project = project_id or env_str(PROJECT_ENV, None, environ)
        if project:
            config.setdefault("project_id", project)
        tag_list = list(tags) if tags is not None else sorted(set(env_list(TAGS_ENV, [], environ) or []))
        if tag_list:
            config.setdefault("tags", tag_list)
        if session_id is not None:
            session = config.get("session")
            config["session"] = {**(session if isinstance(session, Mapping) else {}), "session_id": session_id}
        plugins, disabled = _with_domain_plugin(
            client_kwargs.pop("plugins", None), client_kwargs.pop("disable_plugins", None)
        )
        build = BUILD.client if generated_is_fresh() else functools.partial(Client, MANIFEST)
        self.client = build(
            api_key=api_key,
            base_url=base_url,
            config=config,
            plugins=plugins,
            disable_plugins=disabled,
            **client_kwargs,
        )
        #: The client-wide RetryConfig given to ServiceClient (None = the manifest's policies).
        self.retry_config: Any = None
        self._flags: dict[str, Any] | None = None
        self._flags_lock = threading.Lock()
        missing = [name for name in REQUIRED_PLUGINS if self.client.meta.plugin(name) is None]
        if missing:
            self.client.close()
            raise PristineError(
                f"Tinkex needs the pristine plugin(s) {', '.join(missing)} "
                f"(pip install {' '.join('pristine-' + m for m in missing)}; check PRISTINE_DISABLE_PLUGINS)"
            )

    def call(
        self, endpoint: str, request_options: RequestOptions | Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        """Call ``resource.endpoint`` with body/path/query arguments; returns its result."""
        return self.client.meta.endpoint(endpoint)(request_options=request_options, **kwargs)

    def raw(
        self, endpoint: str, request_options: RequestOptions | Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        """Call ``resource.endpoint`` and return the HTTP response itself (status, headers, body;
        any status, nothing parsed): tinker's ``with_raw_response``."""
        return self.client.meta.endpoint(endpoint).raw(request_options=request_options, **kwargs)

    async def off_loop(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run the blocking ``fn(*args, **kwargs)`` on the client's scheduler; the event loop goes on."""
        return await run_off_loop(self.client.meta.scheduler, fn, *args, **kwargs)

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run the blocking ``fn(*args, **kwargs)`` off the event loop; when it returns a future,
        await that future's value too (without a thread)."""
        value = await run_off_loop(self.client.meta.scheduler, fn, *args, **kwargs)
        if isinstance(value, APIFuture):
            return await wait_future(value)
        return value

    async def wait(self, future: Any, timeout_s: float | None = None) -> Any:
        """Await a (concurrent) future without a thread; past ``timeout_s`` it is cancelled and
        ``concurrent.futures.TimeoutError`` raised."""
        return await wait_future(future, timeout_s)
    def server_flags(self) -> Mapping[str, Any]:
        """The server's ``client/config`` flags, asked once; a server without that endpoint
        (404/405) has none. Other failures propagate and are asked again next time."""
        with self._flags_lock:
            if self._flags is None:
                try:
                    reply = self.call("service.client_config", sdk_version=SDK_VERSION)
                except APIStatusError as exc:
                    if exc.status_code not in (404, 405):
                        raise
                    self._flags = {}
                else:
                    self._flags = {"fwdbwd_protobuf": bool(reply.fwdbwd_protobuf),
                                   "proto_compress_fwdbwd": bool(reply.proto_compress_fwdbwd),
                                   "parallel_fwdbwd_chunks": bool(reply.parallel_fwdbwd_chunks)}
                plugin = self.client.meta.plugin("protobuf")
                if plugin is not None and self._flags.get("fwdbwd_protobuf"):
                    # The same switch: fwd/bwd and sample results come back as protobuf too.
                    plugin.accept_results(True)
            return self._flags

    def learn_server_flags(self) -> None:
        """Ask ``client/config`` once if not asked yet (so results use the format the server
        offers); a failure keeps the defaults (JSON) and is asked again next time."""
        if self._flags is not None or self.client.meta.plugin("protobuf") is None:
            return
        try:
            self.server_flags()
        except PristineError as exc:
            log.debug("tinkex.client_config_unavailable", error=type(exc).__name__)

    def parallel_fwdbwd_chunks(self) -> bool:
        """Whether the server wants the chunks of one forward/backward sent concurrently
        (``client/config`` ``parallel_fwdbwd_chunks``; true when the server does not say)."""
        return bool(self.server_flags().get("parallel_fwdbwd_chunks", True))

    def fwdbwd_extensions(self) -> dict[str, Any]:
        """Request-option extensions for forward/forward_backward: protobuf (zstd when the
        server asks) when the server accepts it and the protobuf plugin is installed, else none."""
        if self.client.meta.plugin("protobuf") is None:
            return {}
        flags = self.server_flags()
        if not flags.get("fwdbwd_protobuf"):
            return {}
        return {"protobuf": True, "protobuf_compression": "zstd" if flags.get("proto_compress_fwdbwd") else "none"}

    def _session(self) -> Any:
        plugin = self.client.meta.plugin("session")
        handle = getattr(plugin, "handle", None) if plugin is not None else None
        if handle is None:
            raise PristineError("no session: Tinkex needs the pristine session plugin (pip install pristine-session)")
        return handle

    @property
    def session_id(self) -> str:
        """The id of this holder's session."""
        return str(self._session().session_id)

    def next_counter(self, name: str) -> int:
        """Allocate the next value of a per-session counter (``model_seq_id``, ``sampling_session_seq_id``)."""
        return int(self._session().next_counter(name))

    def telemetry(self) -> Any:
        """The telemetry reporter of this connection (None when telemetry is off or not installed)."""
        plugin = self.client.meta.plugin("telemetry")
        return getattr(plugin, "telemetry", None) if plugin is not None else None

    @property
    def base_url(self) -> str:
        """The base URL requests go to."""
        return self.client.meta.base_url

    def api_key(self) -> str | None:
        """The API key in clear (for pickling a sampling client only; never log it)."""
        key = self.client.meta.api_key
        return key.reveal() if key is not None else None

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self.client.meta.closed

    def close(self) -> None:
        """Close the client: heartbeats stop, pending futures fail, telemetry flushes."""
        self.client.close()

    def __repr__(self) -> str:
        return f"<tinkex Holder {self.client.meta.base_url}>"


_shadow_lock = threading.Lock()
_shadows: dict[tuple[str, str | None, str], Holder] = {}


def shadow_holder(base_url: str, api_key: str | None, session_id: str) -> Holder:
    """A process-wide holder joined to an existing session (shared by unpickled sampling clients)."""
    key = (base_url, key_digest(api_key), session_id)  # the registry never holds the key in clear
    with _shadow_lock:
        holder = _shadows.get(key)
        if holder is None or holder.closed:
            holder = Holder(api_key=api_key, base_url=base_url, session_id=session_id)
            _shadows[key] = holder
        return holder


@atexit.register
def close_shadow_holders() -> None:
    """Close every shadow holder (also registered to run at interpreter exit)."""
    with _shadow_lock:
        holders = list(_shadows.values())
        _shadows.clear()
    for holder in holders:
        holder.close()
