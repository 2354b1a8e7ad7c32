"""The ``pristine`` command (the ``pristine-cli`` distribution): inspect plugins, validate manifests, scaffold plugins.

Kept out of ``pristine-core`` so that a client needs neither argparse front-ends nor templates.
Other distributions add subcommands through the ``pristine.commands`` entry-point group (see
:mod:`pristine_cli.cli`); ``python -m pristine_cli`` runs the command too.
"""

from __future__ import annotations

__version__ = "0.1.0"
