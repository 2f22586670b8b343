"""Partner Center sandbox: a seeded world served over local HTTPS, with injected cases and their answer key.

Imports nothing from the rest of recon, so it cannot silently agree with the client or the rater.
"""

from __future__ import annotations

from recon.sandbox.server import SandboxServer, run_foreground
from recon.sandbox.world import SIZES, answer_key, write_answer_key

__all__ = ["SIZES", "SandboxServer", "answer_key", "run_foreground", "write_answer_key"]
