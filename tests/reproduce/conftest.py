"""Fixtures of the reproduction tests. This folder is on ``sys.path`` so that pool workers,
spawned fresh, can import ``kaplan_world`` (the simulated trainer)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
