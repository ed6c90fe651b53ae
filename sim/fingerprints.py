"""Content hashes: one definition of "the same inputs" for manifests, reports and analysis folders.

A run directory, an analysis directory and a report each name what produced them by a SHA-256 of
its content (parameters, scenario, design), so the same inputs always give the same hash whatever
file or folder they came from.
"""

from __future__ import annotations

import hashlib
import json


def fingerprint(details) -> str:
    """A stable SHA-256 of ``details`` (JSON, keys sorted; other objects by their text)."""
    text = json.dumps(details, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
