"""The compatibility seam: the installed generation of Mesa and EMA Workbench matches the
interpreter (pyproject.toml markers), and the helpers work with it."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from sim.compat import installed_version, prim_finder


def test_dependency_generation_follows_the_interpreter():
    mesa, ema = installed_version("mesa"), installed_version("ema_workbench")
    if sys.version_info >= (3, 12):
        assert mesa >= (3, 4) and ema >= (3,)
    else:
        assert (3, 1) <= mesa < (3, 4) and (2, 5) <= ema < (3,)


def test_prim_finder_runs_on_the_installed_workbench():
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.random(500), "b": rng.random(500)})
    y = ((x["a"] > 0.6) & (x["b"] < 0.5)).to_numpy()
    box = prim_finder(x, y, threshold=0.8, mass_min=0.05, peel_alpha=0.05).find_box()
    last = box.box_lims[-1]
    assert float(last.loc[0, "a"]) > 0.4 and float(last.loc[1, "b"]) < 0.7
