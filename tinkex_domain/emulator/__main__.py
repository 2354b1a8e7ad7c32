"""``python -m tinkex_domain.emulator serve ...``."""

import sys

from .cli import main

sys.exit(main())
