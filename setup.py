"""Build hook: a wheel ships the plan data, scenarios and calibration inside the package.

``seeds/``, ``scenarios/`` and ``calibration/`` live at the top of the repository, where users read
and edit them; ``build_py`` copies them to ``sim/_data/`` in the wheel so an installed seisim finds
them (``sim/paths.py``). Editable installs read the top-level folders directly. All other metadata is
in ``pyproject.toml``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_DIRS = ("seeds", "scenarios", "calibration")


class BuildWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "sim" / "_data"
        for name in DATA_DIRS:
            if (root / name).is_dir():
                shutil.copytree(root / name, target / name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("reports", "__pycache__", ".*"))


setup(cmdclass={"build_py": BuildWithData})
