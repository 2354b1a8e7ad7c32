"""``python -m pristine_cli``: the ``pristine`` command."""

from pristine_cli.cli import main

raise SystemExit(main())
