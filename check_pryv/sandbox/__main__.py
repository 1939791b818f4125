"""python -m check_pryv.sandbox: the check_pryv_sandbox command."""
import sys

from .command import main

sys.exit(main())
