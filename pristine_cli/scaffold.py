"""``pristine new-plugin NAME --priority N [--dir DIR]``: write a plugin package to start from.

The package is complete and pip-installable: ``pyproject.toml`` with the ``pristine.plugins``
entry point, a plugin class whose typed settings class reads ``features.NAME`` (one required
string, ``header_value``), a dispatch middleware that sets the header ``X-NAME`` to that value on
every attempt, a README and a pytest test that passes as generated. The files are written from
the templates in ``pristine_cli/templates/plugin`` (``str.format`` fields: name, dist, module,
cls, priority, core_minor, core_next).
"""

from __future__ import annotations

import re
from importlib import resources as importlib_resources
from pathlib import Path

from pristine_core import __version__

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

def new_plugin(name: str, priority: int, directory: str | Path = ".") -> Path:
    """Write the package for plugin ``name`` under ``directory``; returns the package folder.

    Raises ``ValueError`` for a name that is not a lowercase identifier or a folder that exists.
    """
    if not _NAME.match(name):
        raise ValueError(f"plugin name {name!r}: use lowercase letters, digits and '_', starting with a letter")
    dist = name.replace("_", "-")
    module = f"pristine_{name}"
    cls = "".join(part.capitalize() for part in name.split("_"))
    root = Path(directory) / f"pristine-{dist}"
    if root.exists():
        raise ValueError(f"{root} already exists")
    major, minor = (int(part) for part in __version__.split(".")[:2])
    values = {
        "name": name,
        "dist": dist,
        "module": module,
        "cls": cls,
        "priority": priority,
        "core_minor": f"{major}.{minor}",
        "core_next": f"{major}.{minor + 1}",
    }
    files = {
        "pyproject.toml": "pyproject.toml",
        "README.md": "README.md",
        f"{module}/__init__.py": "__init__.py",
        f"{module}/plugin.py": "plugin.py",
        f"tests/test_{name}.py": "test_plugin.py",
    }
    templates = importlib_resources.files("pristine_cli") / "templates" / "plugin"
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (templates / f"{template}.tmpl").read_text(encoding="utf-8")
        path.write_text(text.format(**values), encoding="utf-8")
    (root / module / "py.typed").write_text("", encoding="utf-8")
    return root
