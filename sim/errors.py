"""Errors a user can act on.

Every problem in a user's file is reported as one line naming the file, the line (when known), the key
path and the problem, e.g. ``scenarios/x.yaml:12: levers.fund.size: must be >= 0``. All such errors
derive from :class:`InputError` so the CLI can print them without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


#: Control characters (a newline in a YAML key, say) are shown escaped: an error stays one line.
_ESCAPES = {c: f"\\x{c:02x}" for c in range(32)} | {10: "\\n", 13: "\\r", 9: "\\t", 127: "\\x7f"}


def one_line(text: str) -> str:
    """``text`` with control characters escaped, so it prints as one line."""
    return str(text).translate(_ESCAPES)


class InputError(ValueError):
    """A problem in user-supplied data (plan, scenario or calibration file, or an argument)."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None, path: tuple | None = None):
        self.file, self.line, self.key, self.problem = file, line, key, message
        self.path = path  # the key path as a tuple, when known (lets callers relocate the error)
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        if key:
            where += f"{key}: "
        super().__init__(one_line(where + message))


class ReplicationError(RuntimeError):
    """A replication failed; carries its index and seed so it can be rerun alone."""

    def __init__(self, replication: int, seed_entropy: int, spawn_key: tuple, error: str):
        self.replication, self.seed_entropy, self.spawn_key, self.error = (
            replication, seed_entropy, spawn_key, error)
        super().__init__(f"replication {replication} (seed entropy {seed_entropy}, spawn key "
                         f"{spawn_key}) failed: {error}")


class AnalysisWarning(UserWarning):
    """An analysis ran but is too small to trust (wide Sobol intervals, a PRIM box that hardly
    beats the base rate...). A warning, not an error: the numbers exist, but the message says how
    to get ones worth acting on. Filter it with ``warnings.simplefilter("ignore",
    sim.errors.AnalysisWarning)``."""


def nearest(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' hint for a misspelt key, or '' if nothing is close."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def nearest_concept(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' hint for a misspelt concept name (an indicator, a statistic's
    measure): only when ``word`` is a spelling slip of exactly one choice, word for word (same
    number of ``_``-separated words, each close to its counterpart). A close string naming a
    different concept (``industrial_value_added`` vs ``sei_value_added``) is never proposed: it
    would push a user to mislabel a figure."""
    words = str(word).lower().split("_")
    matches = []
    for candidate in choices:
        other = str(candidate).split("_")
        if len(other) == len(words) and all(
                a == b or difflib.SequenceMatcher(None, a, b).ratio() >= 0.75
                for a, b in zip(words, other)):
            matches.append(candidate)
    return f" (did you mean '{matches[0]}'?)" if len(matches) == 1 else ""
