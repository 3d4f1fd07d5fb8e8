"""Make tools/cluster/datamill_testcluster.py importable for the pure unit tests."""

from __future__ import annotations

import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[3] / "tools" / "cluster"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))
