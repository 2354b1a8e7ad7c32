"""Pristine codegen: typed Python packages generated from a manifest (``pristine codegen``).

:func:`generate` returns the files of a package; :func:`write` and :func:`check` put them on disk
or compare them with it. ``docs/codegen.md`` describes the output. Names are imported on first
use, so ``pristine`` registering the ``codegen`` subcommand does not load the generator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pristine_core.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "generate": "pristine_codegen.generator",
    "Staleness": "pristine_codegen.output",
    "check": "pristine_codegen.output",
    "write": "pristine_codegen.output",
    "CodegenError": "pristine_codegen.text",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from pristine_codegen.generator import generate
    from pristine_codegen.output import Staleness, check, write
    from pristine_codegen.text import CodegenError

__all__ = ["CodegenError", "Staleness", "__version__", "check", "generate", "write"]
