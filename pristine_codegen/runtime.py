"""Runtime support of a generated package: build ``pristine_core.Client`` from build-time data.

``pristine codegen`` copies this module into every package it writes (as ``_runtime.py``), so
generated code needs only ``pristine_core`` at run time. It is the one place that knows how the
runtime client is put together: generated resources only call ``client.meta.endpoint(name)(...)``.

What it saves per client: the generated type classes reach the runtime through the public
``pristine_type_classes`` hook (a small plugin object added to each client), so the runtime
builds no classes; the manifest is structured and validated by the first client of the process
(with that client's plugins) and the resulting :class:`~pristine_core.manifest.Manifest` is
reused by every later client.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from pristine_core import Client, Manifest, hookimpl
from pristine_core.errors import PristineError


def given(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments a caller actually gave: generated methods default optional ones to None,
    and a None left out lets the runtime apply the manifest's defaults."""
    return {name: value for name, value in arguments.items() if value is not None}


#: Just below the domain band (400): a domain plugin's own classes win for the types it supplies.
TYPE_CLASSES_PRIORITY = 390


class TypeClassesPlugin:
    """Hands a generated package's classes to the runtime for manifests of the same name."""

    priority = TYPE_CLASSES_PRIORITY

    def __init__(self, package: str, manifest_name: str, classes: Mapping[str, type]) -> None:
        self.name = f"{package}.types"
        self._manifest_name = manifest_name
        self._classes = dict(classes)

    @hookimpl
    def pristine_type_classes(self, manifest: Manifest) -> dict[str, type] | None:
        """The generated (and domain) classes, for the manifest they were generated from."""
        if manifest.name != self._manifest_name:
            return None
        return {name: cls for name, cls in self._classes.items() if name in manifest.types}


class Build:
    """The build-time configuration of one generated package, and the clients built from it."""

    def __init__(
        self,
        *,
        package: str,
        manifest: Mapping[str, Any],
        sha256: str,
        type_classes: Mapping[str, type],
        endpoints: Mapping[str, tuple[str, str, str]],
    ) -> None:
        self.package = package
        self.manifest_data = manifest
        self.manifest_name = str(manifest.get("name", ""))
        self.sha256 = sha256
        self.type_classes = dict(type_classes)
        self.endpoints = dict(endpoints)
        self._manifest: Manifest | None = None
        self._lock = threading.Lock()

    @property
    def manifest(self) -> Manifest | None:
        """The structured manifest once a client has been built (None before)."""
        return self._manifest

    def plugin(self) -> TypeClassesPlugin:
        """A fresh plugin object supplying this package's type classes."""
        return TypeClassesPlugin(self.package, self.manifest_name, self.type_classes)

    def client(self, **client_kwargs: Any) -> Client:
        """A runtime client of this manifest; keyword arguments as for :class:`pristine_core.Client`.

        ``plugins`` keeps its meaning (names narrow the installed set, objects are added); the
        type-classes plugin is added to it.
        """
        given = client_kwargs.pop("plugins", None)
        plugins = [*(given or ()), self.plugin()]
        cached = self._manifest
        client = Client(cached if cached is not None else dict(self.manifest_data), plugins=plugins, **client_kwargs)
        if cached is None:
            with self._lock:
                if self._manifest is None:
                    self._manifest = client.meta.manifest
        return client

    def check(self, client: Client) -> None:
        """Raise when ``client`` was not built for this package's manifest (name and endpoints)."""
        names = {ep.qualified_name for ep in client.meta.manifest.endpoints()}
        missing = sorted(set(self.endpoints) - names)
        if client.meta.manifest.name != self.manifest_name or missing:
            raise PristineError(
                f"{self.package}: the client's manifest {client.meta.manifest.name!r} does not match the generated "
                f"one {self.manifest_name!r}" + (f" (missing endpoints: {', '.join(missing)})" if missing else "")
            )
