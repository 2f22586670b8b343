"""`python -m recon`."""

from __future__ import annotations

import sys

from recon.cli import main

sys.exit(main())
