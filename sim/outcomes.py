"""Outcomes: which simulated quantity answers each plan target.

This is the model's interface to the experiments (EMA Workbench's "outcomes"): for every target figure
in the plan it names the column of the annual table to compare, the threshold and the year, or says
honestly why the model cannot evaluate it (e.g. listed-firm counts are not modelled). Per-replication
outcome extraction lives here too, so workers can reduce their runs to a few numbers per target
before anything is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.errors import InputError, nearest
from sim.model.baseline import Baseline
from sim.plans.indicators import INDICATORS, UNIT_FACTORS
from sim.plans.schema import ABOUT_TOLERANCE, Figure, Plan

@dataclass(frozen=True)
class TargetSpec:
    """One plan target and how it is evaluated: met when the simulated value in ``year`` is at or
    above ``threshold`` (the scoring ``rule`` says how a qualifier set it). Undated and
    unquantified targets are listed with ``column`` None and the ``reason``."""

    id: str
    indicator: str
    scope: str
    year: int | None
    threshold: float | None
    unit: str
    qualifier: str
    kind: str | None
    source: str
    column: str | None          # annual-table column compared with the threshold
    reason: str = ""            # why it is not evaluable (column is None)
    rule: str = ""              # how the threshold follows from the plan's wording
    members: tuple[str, ...] = ()    # k-of-n targets: the columns counted
    member_threshold: float | None = None

    @property
    def simulated(self) -> bool:
        """The model computes the target's quantity (its distribution is reported)."""
        return self.column is not None

    @property
    def evaluable(self) -> bool:
        """The quantity is simulated and the plan gives a level to meet (a probability)."""
        return self.column is not None and self.threshold is not None


#: Above-scale measures cannot be compared with a model sized on all industry, and the reverse.
COVERAGE_OF = {"industrial_value_added": "all", "above_scale_industrial_value_added": "above_scale",
               "industrial_output": "above_scale", "nonsei_output": "above_scale",
               "sei_output_share": "above_scale", "sei_share_of_industrial_value_added":
               "above_scale", "industrial_value_added_share_gdp": "all"}


def scoring_rule(f: Figure) -> tuple[float, str]:
    """The level at which a target counts as met, and the rule in words. "About X" is met within
    its tolerance (the figure's own, else ``ABOUT_TOLERANCE`` of X) and reported as such; a range
    at its low end; "more than", "at least", a class floor and a plain figure at the figure."""
    low, high = f.canonical_range
    if f.is_range:
        return low, f"range {low:g}-{high:g}: met at the low end"
    if f.qualifier == "about":
        tol = (f.tolerance * UNIT_FACTORS[f.unit][1] if f.tolerance is not None
               else ABOUT_TOLERANCE * abs(low))
        return low - tol, (f"about {low:g}: met at {low - tol:g} or more (tolerance {tol:g} "
                           f"{f.canonical_unit}" + ("" if f.tolerance is not None else
                                                    f", {ABOUT_TOLERANCE:.0%} of the figure") + ")")
    return low, ""


def _unit_column(kind: str, unit_id: str, baseline: Baseline) -> tuple[str | None, str]:
    names = baseline.parks if kind == "park" else baseline.industries + baseline.services
    if unit_id in names:
        return f"sei_output.{kind}.{unit_id}", ""
    return None, (f"{kind} '{unit_id}' is not a separate unit of the model"
                  + (" (no park output baseline)" if kind == "park" else
                     " (not flagged SEI: part of the rest of industry)"
                     if unit_id in baseline.non_sei_industries else ""))


def _column_for(f: Figure, baseline: Baseline, services_in_total: bool,
                share_definition: str) -> tuple[str | None, str]:
    ind, scope_id = INDICATORS[f.indicator], f.scope_id
    if f.indicator == "firm_count_over":
        if f.threshold in (10.0, 100.0):
            return f"firms_over_{int(f.threshold)}", ""
        return None, f"firm-size threshold {f.threshold:g} is not tracked (10 and 100 are)"
    if f.indicator == "cluster_count":
        if not f.among:
            return None, ("a cluster count without 'among' names no industries the model can "
                          "count; clusters are not identified")
        for member in f.among:
            column, reason = _unit_column("industry", member, baseline)
            if column is None:
                return None, reason
        return f"count of {len(f.among)} industries at {f.threshold:g} 亿元 or more", ""
    if f.scope_kind in ("industry", "park") or f.indicator == "cluster_class":
        kind = "park" if f.scope_kind == "park" else "industry"
        if f.indicator not in ("sei_output", "cluster_class"):
            return None, f"{f.indicator} by {kind} is not modelled"
        return _unit_column(kind, scope_id, baseline)
    if ind.column is None:
        return None, ind.reason
    needed = COVERAGE_OF.get(f.indicator)
    if needed is not None and needed != baseline.industry_coverage:
        return None, (f"the model's industry is sized on "
                      f"{'all industry' if baseline.industry_coverage == 'all' else 'above-scale industry'}"
                      f"; this target measures {'all industry' if needed == 'all' else 'above-scale industry'}")
    if f.indicator == "sei_output":
        return ("sei_output_total" if services_in_total else "sei_industrial_output"), ""
    if f.indicator == "sei_output_share":
        if share_definition == "plan" and services_in_total:
            return "sei_output_share_incl_services", ""
        return "sei_output_share", ""
    return ind.column, ""


#: Published-statistic measure -> annual-table column that simulates it (see sim.plans.statistics
#: for the definitions), or the reason the model has no counterpart.
STATISTIC_COLUMNS: dict[str, str] = {
    "sei_output": "sei_industrial_output",
    "sei_output_share": "sei_output_share",
    "sei_share_of_industrial_value_added": "sei_share_of_industrial_value_added",
    "sei_industrial_value_added_growth": "sei_industrial_value_added_growth",
    "industrial_value_added_growth": "industrial_value_added_growth",
    "industrial_output": "total_industrial_output",
    "industrial_value_added": "industrial_value_added",
    "gdp": "gdp",
    "gdp_growth": "gdp_growth",
    "sei_value_added_share_gdp": "sei_value_added_share_gdp",
}
STATISTIC_NOT_SIMULATED = {
    "rd_intensity": "R&D spending relative to GDP is not modelled",
    "industrial_investment": "industrial investment is not modelled",
    "industrial_investment_growth": "industrial investment is not modelled",
    "above_scale_industrial_firms": "only SEI firms are modelled one by one; the rest of industry "
                                    "is an aggregate without a firm count",
}


def statistic_column(stat) -> tuple[str | None, str]:
    """The annual-table column a published statistic is compared with, and a note: why it is not
    simulated, or how a sub-annual figure is approximated."""
    if stat.measure in STATISTIC_NOT_SIMULATED:
        return None, STATISTIC_NOT_SIMULATED[stat.measure]
    column = STATISTIC_COLUMNS[stat.measure]
    note = "" if stat.period == "year" else (
        f"{stat.period} figure compared with the simulated full-year value")
    return column, note


def services_in_printed_total(plan: Plan, baseline: Baseline) -> bool:
    """Whether the plan's region SEI output total includes its services lines (as Fuling's does)."""
    lines = [f for s in plan.service_industries
             for f in plan.find("sei_output", scope=f"industry:{s.id}")]
    return bool(lines)


def target_specs(plan: Plan, baseline: Baseline, end_year: int, *,
                 select: str | list[str] = "all", share_definition: str = "strict",
                 source_file: str | None = None) -> list[TargetSpec]:
    """Every target of ``plan`` (or the selected ids) with its evaluation rule, undated and
    unquantified ones included (not evaluable, with the reason)."""
    targets = plan.all_targets
    if select != "all":
        ids = {f.id for f in targets}
        for k, wanted in enumerate(select):
            if wanted not in ids:
                raise InputError(f"unknown target '{wanted}'{nearest(wanted, ids)}",
                                 file=source_file, key=f"targets[{k}]", path=("targets", k))
        targets = [f for f in targets if f.id in set(select)]
    services_in_total = services_in_printed_total(plan, baseline)
    specs = []
    for f in targets:
        common = dict(id=f.id, indicator=f.indicator, scope=f.scope, unit=f.canonical_unit,
                      qualifier=f.qualifier, kind=f.kind, source=plan.source_of(f))
        if not f.quantified or f.unscored:
            reason = (f.unscored or ("undated: the plan gives no year" if f.year is None else
                                     "unquantified (一批, 若干): the plan gives no number"))
            column, members = None, ()
            if f.among and f.year is not None and baseline.year < f.year <= end_year:
                # "Several of these n": no level to meet, but the count itself is simulated.
                column, why = _column_for(f, baseline, services_in_total, share_definition)
                if column is not None:
                    members = tuple(f"sei_output.industry.{m}" for m in f.among)
                    reason += "; the simulated count is shown"
            specs.append(TargetSpec(**common, year=f.year, threshold=None, column=column,
                                    reason=reason, members=members,
                                    member_threshold=f.threshold if members else None))
            continue
        if f.year > end_year or f.year <= baseline.year:
            raise InputError(f"target '{f.id}' is for {f.year}, outside the horizon "
                             f"{baseline.year}-{end_year}", file=source_file, key="horizon.end",
                             path=("horizon", "end"))
        column, reason = _column_for(f, baseline, services_in_total, share_definition)
        threshold, rule = scoring_rule(f)
        members, member_threshold = (), None
        if f.among and column is not None:
            members = tuple(f"sei_output.industry.{m}" for m in f.among)
            member_threshold = f.threshold
            rule = (f"{threshold:g} or more of {', '.join(f.among)} at {f.threshold:g} 亿元 or "
                    "more" + (f"; {rule}" if rule else ""))
        specs.append(TargetSpec(**common, year=f.year, threshold=threshold, column=column,
                                reason=reason, rule=rule, members=members,
                                member_threshold=member_threshold))
    return specs


def replication_outcomes(annual: pd.DataFrame, specs: list[TargetSpec]) -> pd.DataFrame:
    """Per replication and evaluable target: the value in the target year and the first year
    (within the horizon, after the base year) in which the target level was reached.

    Computed on one (replication x year) array per target rather than a pandas pivot each:
    outcomes are taken for every chunk of every Monte Carlo run and designed experiment."""
    reps, years, order = _replication_grid(annual)
    base_year = years.min()
    later = years > base_year
    # The structural variant of each replication (ODD 7.16), looked up once for all targets.
    variant = None
    if "structure_converge" in annual.columns:
        variant = np.where(_as_grid(annual["structure_converge"], order, len(reps))[:, 0] > 0.5,
                           "converge", "persist")
    targets, values_at, firsts = [], [], []
    for spec in specs:
        if not spec.simulated:
            continue
        if spec.members:  # k of n: how many of the listed units reach their class
            values = sum((annual[c].to_numpy() >= spec.member_threshold).astype(float)
                         for c in spec.members)
        else:
            values = annual[spec.column].to_numpy()
        grid = _as_grid(values, order, len(reps))
        at = np.flatnonzero(years == spec.year)
        if not at.size:
            raise KeyError(f"target year {spec.year} of {spec.id} is outside the simulated "
                           f"years {years.min()}-{years.max()}")
        if spec.threshold is None:
            first = np.full(len(reps), np.nan)
        else:
            reached = grid[:, later] >= spec.threshold
            first = np.where(reached.any(axis=1), years[later][reached.argmax(axis=1)], np.nan)
        targets.append(spec.id)
        values_at.append(grid[:, at[0]])
        firsts.append(first)
    if not targets:
        return pd.DataFrame(columns=["replication", "target", "value", "first_met_year"])
    # One table built once (target by target, replications in order within each), not one
    # table per target concatenated.
    columns = {"replication": np.tile(reps, len(targets)),
               "target": np.repeat(np.array(targets, dtype=object), len(reps)),
               "value": np.concatenate(values_at), "first_met_year": np.concatenate(firsts)}
    if variant is not None:
        columns["structure"] = np.tile(variant.astype(object), len(targets))
    return pd.DataFrame(columns)


def _replication_grid(annual: pd.DataFrame):
    """The replications (sorted), the simulated years (sorted) and the row order that lays the
    annual rows out as a (replication x year) grid; every replication must have every year once,
    as every run of one experiment does."""
    rep = annual["replication"].to_numpy()
    year = annual["year"].to_numpy()
    order = np.lexsort((year, rep))
    reps = np.unique(rep)
    years = np.unique(year)
    if len(rep) != len(reps) * len(years) or not (
            year[order].reshape(len(reps), len(years)) == years).all():
        raise ValueError("annual rows do not hold every year exactly once per replication")
    return reps, years, order


def _as_grid(values, order, n_reps: int) -> np.ndarray:
    values = np.asarray(values, dtype=float)[order]
    return values.reshape(n_reps, -1)
