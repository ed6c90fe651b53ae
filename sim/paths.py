"""Where seisim finds the data it ships: the one place that knows the search paths' roots.

The repository keeps plan data (``seeds/``), scenarios (``scenarios/``) and calibration specs and
fitted sets (``calibration/``) at its top level, where users read and edit them. A wheel carries
copies inside the package (``sim/_data/``, put there by ``setup.py`` at build time), so an installed
seisim works from any directory. A source checkout or editable install uses the top-level folders.

User folders come first in every search (``SEISIM_SEEDS``, ``SEISIM_PARAMETER_SETS``, the working
directory's ``seeds/``, ``scenarios/``, ``calibration/``); these shipped folders come last.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1]


def _shipped_root() -> Path:
    packaged = Path(str(resources.files("sim"))) / "_data"
    return packaged if (packaged / "seeds").is_dir() else SOURCE_ROOT


#: The folder holding the shipped ``seeds/``, ``scenarios/`` and ``calibration/``.
SHIPPED_ROOT = _shipped_root()
SHIPPED_SEEDS = SHIPPED_ROOT / "seeds"
SHIPPED_SCENARIOS = SHIPPED_ROOT / "scenarios"
SHIPPED_CALIBRATION = SHIPPED_ROOT / "calibration"
