"""Small text helpers shared by the renderers: docstrings, identifiers, names."""

from __future__ import annotations

import keyword


class CodegenError(Exception):
    """The manifest cannot be turned into Python (the message names the JSON path)."""


def docstring(text: str, indent: int) -> str:
    """A triple-quoted docstring for ``text`` at ``indent`` spaces (escapes quotes, backslashes)."""
    pad = " " * indent
    body = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if body.endswith('"'):
        body += " "
    lines = body.splitlines() or [""]
    if len(lines) == 1:
        return f'{pad}"""{lines[0]}"""'
    inner = "\n".join(f"{pad}{line}".rstrip() for line in lines[1:])
    return f'{pad}"""{lines[0]}\n{inner}\n{pad}"""'


def python_identifier(name: str, where: str) -> str:
    """``name`` when it is a usable Python identifier, else a :class:`CodegenError` naming ``where``."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise CodegenError(f"{where}: {name!r} is not a valid Python identifier")
    return name


def pascal(name: str) -> str:
    """``stream_sample`` -> ``StreamSample``; ``tinker-api`` -> ``TinkerApi``."""
    parts = [p for p in name.replace("-", "_").replace(".", "_").split("_") if p]
    return "".join(p[:1].upper() + p[1:] for p in parts) or "Api"
