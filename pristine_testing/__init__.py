"""Pristine's testing helpers for SDK and plugin authors (the ``pristine-testing`` distribution).

- :class:`LoopbackServer` (with :class:`Reply`, :class:`SeenRequest`, :func:`json_reply`): a real,
  scripted HTTP server on 127.0.0.1 that records every request it saw; :func:`refused_port` holds a
  port whose connections are refused;
- :class:`ManifestMock` / :class:`MockMismatch` (:mod:`pristine_testing.mocking`): a manifest-aware
  mock on top of ``responses``;
- pytest fixtures ``loopback_server``, ``client_factory`` and ``pristine_mock``
  (:mod:`pristine_testing.pytest_plugin`, registered through the ``pytest11`` entry point).

``pristine_core.LoopbackServer`` still works when this distribution is installed (a lazy re-export).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pristine_core.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    **dict.fromkeys(
        ("LoopbackServer", "Reply", "SeenRequest", "json_reply", "refused_port"), "pristine_testing.loopback"
    ),
    **dict.fromkeys(("ManifestMock", "MockMismatch"), "pristine_testing.mocking"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from pristine_testing.loopback import LoopbackServer, Reply, SeenRequest, json_reply, refused_port
    from pristine_testing.mocking import ManifestMock, MockMismatch

__all__ = [
    "LoopbackServer",
    "ManifestMock",
    "MockMismatch",
    "Reply",
    "SeenRequest",
    "__version__",
    "json_reply",
    "refused_port",
]
