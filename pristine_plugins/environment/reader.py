"""Reading environment variables as ``features.environment`` declares them.

The manifest says which variable feeds what; :func:`resolve` reads them once, at client
construction, into a :class:`~pristine_core.defaults.ClientDefaults` that the client applies.
Explicit constructor arguments and ``config`` entries always win over the environment, which
wins over the manifest's defaults. A bad value is a
:class:`~pristine_core.errors.ValidationError` whose path is the variable's name.

Block shape::

    "environment": {
      "variables": {
        "<VAR>": {"to": "<target>", ...target keys}
      },
      "platform_headers": {"<Header-Name>": "os|arch|runtime|runtime_version|python_version"}
    }

Targets:

``header``          one header: ``name`` (required), ``secret`` (redact it everywhere and send it
                    only with the API's own requests, like the API key; false)
``headers``         a JSON object of headers (values stringified; empty names are errors)
``query``           a JSON object of query parameters added to every call
``proxy``           a proxy URL ``http(s)://[user:pass@]host[:port]`` for every request; the
                    user-info becomes a ``Proxy-Authorization: Basic`` header unless
                    ``proxy_headers`` gives one
``proxy_headers``   a JSON array of ``[name, value]`` pairs sent to the proxy
``dump_headers``    a boolean: log every request (method, URL, headers with secrets redacted)
``log_level``       ``debug/info/warn/warning/error``: level of the ``loggers`` listed (the
                    library's own loggers; no handler is added)
``pool_connections`` a positive int: connections of every manifest pool (``config.pools`` wins)
``host_pools``      a positive int: connection pools kept per pool session (one per host)
``default_pool``    the manifest pool that replaces the default pool (endpoints naming another
                    pool keep theirs)
``profile``         one name among ``profiles`` (``{name: {"timeout_s": n, "config": {...}}}``);
                    ``aliases`` map other spellings to a profile; ``default`` names the one used
                    when unset
``config``          ``key`` (a dotted path into the client ``config``) gets the value parsed
                    as ``format``: ``str`` (default), ``bool``, ``int``, ``list`` (comma
                    separated), ``json``; ``default`` applies when unset
"""

from __future__ import annotations

import base64
import json
import logging
import platform
import urllib.parse
from collections.abc import Mapping, MutableMapping
from typing import Any

import attrs

from pristine_core.config import env_str
from pristine_core.defaults import ClientDefaults, deep_merge
from pristine_core.errors import ValidationError
from pristine_core.logs import get_logger
from pristine_plugins.environment.settings import UNSET, EnvironmentBlock, Variable
from pristine_runtime.secrets import Secret, redact, register_secret

log = get_logger(__name__)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "warning": logging.WARNING,
           "error": logging.ERROR}

@attrs.frozen
class Reading:
    """What the environment asked for: the client defaults, plus what this plugin applies itself
    (request dumps, logger levels) and the profile chosen (None: none)."""

    defaults: ClientDefaults = attrs.Factory(ClientDefaults)
    dump_headers: bool = False
    log_levels: dict[str, int] = attrs.Factory(dict)
    profile: str | None = None


def platform_fact(name: str) -> str:
    """One fact about this process's platform, as the ``platform_headers`` targets name them."""
    if name == "os":
        return platform.system() or "Unknown"
    if name == "arch":
        machine = platform.machine().lower()
        return {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64"}.get(machine, machine or "unknown")
    if name == "runtime":
        return platform.python_implementation()
    return platform.python_version()


def _bad(var: str, message: str) -> ValidationError:
    return ValidationError([(var, message)], "environment")


def _bool(var: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _bad(var, f"expected a boolean (1/true/yes/on or 0/false/no/off), got {value!r}")


def _positive_int(var: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise _bad(var, f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise _bad(var, f"expected a positive integer, got {value!r}")
    return number


def _json(var: str, value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise _bad(var, f"expected JSON: {exc.msg} at character {exc.pos}") from None


def _string_map(var: str, value: str) -> dict[str, str]:
    data = _json(var, value)
    if not isinstance(data, Mapping):
        raise _bad(var, "expected a JSON object")
    result: dict[str, str] = {}
    for key, item in data.items():
        name = str(key).strip()
        if not name:
            raise _bad(var, "empty name")
        if item is None:
            continue
        if isinstance(item, (dict, list)):
            raise _bad(f"{var}.{name}", "expected a string, number or boolean")
        result[name] = str(item).lower() if isinstance(item, bool) else str(item)
    return result


def _pairs(var: str, value: str) -> dict[str, str]:
    data = _json(var, value)
    ok = isinstance(data, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in data
    )
    if not ok:
        raise _bad(var, 'expected a JSON array of ["name", "value"] pairs')
    return {name: item for name, item in data}


def _proxy(var: str, value: str) -> tuple[str, dict[str, str]]:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad(var, "expected http(s)://[user:pass@]host[:port]")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _bad(var, "the port must be 1..65535") from None
    if not 1 <= port <= 65535:
        raise _bad(var, "the port must be 1..65535")
    headers: dict[str, str] = {}
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        register_secret(parts.password)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        register_secret(token)
        headers["Proxy-Authorization"] = f"Basic {token}"
    clean = urllib.parse.urlunsplit((parts.scheme, f"{parts.hostname}:{port}", "", "", ""))
    return clean, headers


def _convert(var: str, value: str, fmt: str) -> Any:
    if fmt == "bool":
        return _bool(var, value)
    if fmt == "int":
        try:
            return int(value)
        except ValueError:
            raise _bad(var, f"expected an integer, got {value!r}") from None
    if fmt == "list":
        return [item.strip() for item in value.split(",") if item.strip()]
    if fmt == "json":
        return _json(var, value)
    return value


def _set_path(config: MutableMapping[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def resolve(
    block: EnvironmentBlock | None,
    environ: Mapping[str, str] | None = None,
    pools: frozenset[str] = frozenset(),
) -> Reading:
    """Read every variable ``block`` declares from ``environ`` (default ``os.environ``).

    A bad value raises :class:`~pristine_core.errors.ValidationError` whose path is the
    variable's name. Secret header values and proxy credentials come back as
    :class:`~pristine_runtime.secrets.Secret` objects and are registered for redaction.
    """
    if block is None:
        return Reading()
    values: dict[str, Any] = {
        "headers": {name: platform_fact(fact) for name, fact in block.platform_headers.items()},
        "secret_headers": {},
        "query": {},
        "proxy_headers": {},
        "config": {},
        "log_levels": {},
    }
    proxy_auth: dict[str, str] = {}
    secret_names: set[str] = set()
    for var, spec in block.variables.items():
        target = spec.to
        raw = env_str(var, None, environ)
        if raw is None:
            if target == "config" and spec.default is not UNSET:
                _set_path(values["config"], spec.key or "", spec.default)
            elif target == "profile" and spec.default is not UNSET:
                _apply_profile(values, spec, spec.default)
            continue
        if target == "header":
            name = spec.name or ""
            if spec.secret:
                register_secret(raw)
                secret_names.add(var)
                values["secret_headers"][name] = raw
            else:
                values["headers"][name] = raw
        elif target == "headers":
            values["headers"].update(_string_map(var, raw))
        elif target == "query":
            values["query"].update(_string_map(var, raw))
        elif target == "proxy":
            values["proxy"], proxy_auth = _proxy(var, raw)
            if proxy_auth:
                secret_names.add(var)
        elif target == "proxy_headers":
            values["proxy_headers"] = _pairs(var, raw)
            secret_names.add(var)
            for value in values["proxy_headers"].values():
                register_secret(value)  # credentials for the proxy, as a rule
        elif target == "dump_headers":
            values["dump_headers"] = _bool(var, raw)
        elif target == "log_level":
            level = _LEVELS.get(raw.lower())
            if level is None:
                raise _bad(var, f"expected one of debug, info, warn, warning, error; got {raw!r}")
            values["log_levels"].update({name: level for name in spec.loggers or ()})
        elif target in ("pool_connections", "host_pools"):
            values[target] = _positive_int(var, raw)
        elif target == "default_pool":
            if pools and raw not in pools:
                raise _bad(var, f"unknown pool {raw!r} (the manifest has {', '.join(sorted(pools))})")
            values["default_pool"] = raw
        elif target == "profile":
            profiles, aliases = spec.profiles or {}, spec.aliases or {}
            name = aliases.get(raw.lower(), raw.lower())
            if name not in profiles:
                choices = sorted({*profiles, *aliases})
                raise _bad(var, f"expected one of {', '.join(choices)}; got {raw!r}")
            _apply_profile(values, spec, name)
        elif target == "config":
            _set_path(values["config"], spec.key or "", _convert(var, raw, spec.format or "str"))
    if proxy_auth and not values["proxy_headers"]:
        values["proxy_headers"] = proxy_auth
    extras = {key: values.pop(key) for key in ("dump_headers", "log_levels", "profile") if key in values}
    values["secret_headers"] = {name: Secret(value) for name, value in values["secret_headers"].items()}
    values["proxy_headers"] = {name: Secret(value) for name, value in values["proxy_headers"].items()}
    values["secret_names"] = frozenset(secret_names)
    return Reading(defaults=ClientDefaults(**values), **extras)


def _apply_profile(values: dict[str, Any], spec: Variable, name: str) -> None:
    profile = (spec.profiles or {})[name]
    values["profile"] = name
    if profile.timeout_s is not None:
        values["timeout_s"] = profile.timeout_s
    values["config"] = deep_merge(profile.config, values["config"])


def apply_log_levels(levels: Mapping[str, int]) -> None:
    """Set the level of each named logger (handlers are the application's business)."""
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def dump_request(method: str, url: str, safe_headers: Mapping[str, str], attempt: int) -> None:
    """Log one outgoing request at INFO (headers already redacted by the caller)."""
    log.info("pristine.request", method=method, url=redact(url), headers=dict(safe_headers), attempt=attempt)
