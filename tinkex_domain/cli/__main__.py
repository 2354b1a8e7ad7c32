"""``python -m tinkex_domain.cli``."""

import sys

from tinkex_domain.cli import main

sys.exit(main())
