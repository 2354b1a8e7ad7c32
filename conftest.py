"""Repository-wide test hygiene, for every test path (``tests``, each plugin, codegen, Tinkex)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """Undo any structlog configuration a test made (the CLIs configure it for their process).

    Restoring with ``structlog.configure(**saved)`` is not enough: it marks structlog as configured,
    and ``pristine_core.logs`` then routes every later test's records away from the stdlib logging
    that ``caplog`` reads. So an unconfigured structlog goes back to unconfigured.
    """
    was_configured = structlog.is_configured()
    saved = structlog.get_config()
    yield
    if was_configured:
        structlog.configure(**saved)
    else:
        structlog.reset_defaults()
