"""Pristine codegen: typed Python packages generated from a manifest (``pristine codegen``).

:func:`generate` returns the files of a package; :func:`write` and :func:`check` put them on disk
or compare them with it. ``docs/codegen.md`` describes the output.
"""

from pristine_codegen.generator import generate
from pristine_codegen.output import Staleness, check, write
from pristine_codegen.text import CodegenError

__version__ = "0.1.0"

__all__ = ["CodegenError", "Staleness", "__version__", "check", "generate", "write"]
