"""Shared pytest setup: make ``ansible_collections.datamill.platform`` importable from a checkout.

`make setup` links the checkout at ``.collections/ansible_collections/datamill/platform``; this file puts
``.collections`` first on ``sys.path`` so module_utils and modules import by their collection names, exactly
as Ansible loads them.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO_ROOT / ".collections"
SHARED = REPO_ROOT.parent / "shared"

if not (COLLECTIONS / "ansible_collections" / "datamill" / "platform").exists():
    raise RuntimeError(f"{COLLECTIONS}/ansible_collections/datamill/platform is missing: run `make setup` first")
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
