"""`python -m wallet`: the same as the `faircoop-wallet` console script."""

import sys

from wallet.cli import main

sys.exit(main())
