"""A sweep read as a curve: P(met) of each target against the lever, measured from the status quo.

A scenario's ``sweep:`` grid is run on common random numbers like a comparison. What a planner
asks of it is how the chance of each target moves as the lever moves away from where it is now, so
differences are taken against the *status quo*: the scenario's own setting of the swept keys. When
that setting is not a grid point it is run as one more point, labelled ``status quo``, on the same
random numbers, so its paired differences are as tight as those between grid points.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import pandas as pd

from sim.scenarios import Scenario

#: Columns of :func:`sweep_table`, after the swept keys.
SWEEP_COLUMNS = ["label", "status_quo", "target", "year", "threshold", "unit", "replications",
                 "p_met", "ci_low", "ci_high", "median", "p_met_diff", "p_met_diff_low",
                 "p_met_diff_high", "mean_diff", "mean_diff_low", "mean_diff_high"]


#: Mapping-valued levers whose unlisted entries have a known value: a park not listed under
#: ``levers.parks.expansion`` gets no extra land.
UNLISTED_ENTRY = {"expansion": 0.0}


def own_setting(scenario: Scenario, key: str):
    """The scenario's own value of a dotted lever or parameter key (None when it has none, e.g.
    an unlisted allocation weight: then the status quo has no place on the lever axis)."""
    node = scenario.resolved
    parts = key.split(".")
    for part in parts:
        node = node.get(part) if isinstance(node, dict) else None
    if node is None and key.startswith("levers.") and len(parts) > 2:
        node = UNLISTED_ENTRY.get(parts[-2])
    if node is None and key.startswith("params."):
        node = scenario.draw_params(None).model_dump()
        for part in key.split(".")[1:]:
            node = node.get(part) if isinstance(node, dict) else None
    return node


def _same(a, b) -> bool:
    if isinstance(a, Real) and isinstance(b, Real) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-15)
    return a == b


def sweep_design(scenario: Scenario) -> tuple[dict[str, Scenario], pd.DataFrame, str]:
    """The labelled scenarios to run, the grid (one row per label: the swept keys' values and
    ``status_quo``) and the status quo's label. The status quo comes first when it is an extra
    point, so it is also the comparison's default reference."""
    points = scenario.sweep_points()
    keys = list(scenario.spec.sweep)
    own = {k: own_setting(scenario, k) for k in keys}
    rows = {variant.name: {**point, "status_quo": all(_same(point[k], own[k]) for k in keys)}
            for point, variant in points}
    labelled = {variant.name: variant for _, variant in points}
    on_grid = [label for label, row in rows.items() if row["status_quo"]]
    if on_grid:
        status_quo = on_grid[0]
    else:
        status_quo = f"{scenario.name}[status quo]"
        labelled = {status_quo: scenario.with_overrides({}, status_quo), **labelled}
        rows = {status_quo: {**own, "status_quo": True}, **rows}
    grid = pd.DataFrame.from_dict(rows, orient="index")
    grid.index.name = "label"
    grid.attrs["keys"] = keys
    grid.attrs["grid_values"] = {k: [p[k] for p, _ in points] for k in keys}
    grid.attrs["status_quo_extra"] = not on_grid
    return labelled, grid, status_quo


def is_geometric(values) -> bool:
    """Whether grid values are (roughly) equally spaced in ratio, e.g. 0.5, 1, 2, 4, 8 or 1, 3,
    10, 30: then a log axis spaces them evenly and a linear one crowds the small ones."""
    try:
        v = np.unique(np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        return False
    if len(v) < 3 or not np.all(v > 0):
        return False
    ratios = v[1:] / v[:-1]
    mean = float(np.exp(np.log(ratios).mean()))
    return mean >= 1.5 and bool(np.all(np.abs(ratios / mean - 1) <= 0.15))


def sweep_table(targets: pd.DataFrame, differences: pd.DataFrame, grid: pd.DataFrame,
                status_quo: str) -> pd.DataFrame:
    """One row per sweep point and evaluable target: the swept keys' values, P(met) with its
    95% Wilson interval, and the paired difference from the status quo (exactly zero at the
    status quo itself). ``targets`` and ``differences`` are a comparison's tables, the latter
    against ``status_quo``."""
    keys = list(grid.attrs.get("keys", [c for c in grid.columns if c != "status_quo"]))
    t = targets[targets["p_met"].notna()].rename(columns={"scenario": "label"})
    t = t.merge(grid.reset_index(), on="label", how="left")
    zero = {c: 0.0 for c in ("p_met_diff", "p_met_diff_low", "p_met_diff_high", "mean_diff",
                             "mean_diff_low", "mean_diff_high")}
    d = (differences.rename(columns={"scenario": "label"})[["label", "target", *zero]]
         if len(differences) else pd.DataFrame(columns=["label", "target", *zero]))
    t = t.merge(d, on=["label", "target"], how="left")
    at_sq = t["label"] == status_quo
    for column, value in zero.items():
        t.loc[at_sq, column] = value
    # Target by target (the plan's order), each along the lever(s), ascending.
    first = {target: k for k, target in enumerate(dict.fromkeys(targets["target"]))}
    order = {label: k for k, label in enumerate(grid.index)}
    t = t.assign(_t=t["target"].map(first), _o=t["label"].map(order))
    numeric = [k for k in keys if pd.api.types.is_numeric_dtype(t[k])]
    t = t.sort_values(["_t", *numeric, "_o"], kind="stable")
    return t[keys + SWEEP_COLUMNS].reset_index(drop=True)
