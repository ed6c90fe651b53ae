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
from sim.plans.schema import Figure, Plan

NOT_MODELLED = {
    "listed_firm_count": "listed companies are not modelled",
    "specialised_sme_count": "专精特新 status is not modelled",
    "hightech_enterprise_count": "high-tech enterprise status is not modelled",
    "tech_sme_count": "science-and-technology firm status is not modelled",
    "rd_institution_count": "R&D institutions are not modelled",
    "key_lab_count": "laboratories are not modelled",
    "ip_demo_firm_count": "IP demonstration status is not modelled",
    "green_factory_count": "green factories are not modelled",
    "rd_intensity": "R&D spending relative to GDP is not modelled",
    "industrial_rd_intensity": "R&D spending relative to revenue is not modelled",
    "rd_personnel": "the model's talent pool covers SEI firms only",
    "high_level_talent_added": "high-level talent is not modelled",
    "high_tech_output": "high-technology industry is a different classification",
    "energy_intensity_decline": "energy use is not modelled",
    "fund_count": "the number of funds is an input",
    "fund_invested": "fund investment is an input (lever)",
    "fund_co_investment": "co-investment follows from the leverage input",
    "sei_output_growth": "growth-rate targets are not evaluated",
    "sei_value_added_growth": "growth-rate targets are not evaluated",
    "cluster_count": "cluster counts are not evaluated",
}


@dataclass(frozen=True)
class TargetSpec:
    """One plan target and how it is evaluated."""

    id: str
    indicator: str
    scope: str
    year: int
    threshold: float
    unit: str
    qualifier: str
    kind: str | None
    source: str
    column: str | None          # annual-table column compared with the threshold
    reason: str = ""            # why it is not evaluable (column is None)

    @property
    def evaluable(self) -> bool:
        return self.column is not None


def _column_for(f: Figure, baseline: Baseline, services_in_total: bool,
                share_definition: str) -> tuple[str | None, str]:
    ind, scope_id = f.indicator, f.scope_id
    if ind in NOT_MODELLED:
        return None, NOT_MODELLED[ind]
    if ind == "firm_count_over":
        if f.threshold in (10.0, 100.0):
            return f"firms_over_{int(f.threshold)}", ""
        return None, f"firm-size threshold {f.threshold:g} is not tracked (10 and 100 are)"
    if f.scope_kind in ("industry", "park") or ind == "cluster_class":
        kind = "park" if f.scope_kind == "park" else "industry"
        names = baseline.parks if kind == "park" else baseline.industries + baseline.services
        if scope_id not in names:
            return None, (f"{kind} '{scope_id}' is not a separate unit of the model"
                          + (" (no park output baseline)" if kind == "park" else ""))
        if ind in ("sei_output", "cluster_class"):
            return f"sei_output.{kind}.{scope_id}", ""
        return None, f"{ind} by {kind} is not modelled"
    if ind == "sei_output":
        return ("sei_output_total" if services_in_total else "sei_industrial_output"), ""
    if ind == "sei_output_share":
        if share_definition == "plan" and services_in_total:
            return "sei_output_share_incl_services", ""
        return "sei_output_share", ""
    simple = {"sei_value_added": "sei_value_added",
              "sei_value_added_share_gdp": "sei_value_added_share_gdp",
              "sei_firm_count": "above_scale_firms"}
    if ind in simple:
        return simple[ind], ""
    return None, f"indicator {ind} is not evaluated"


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
    """Every target of ``plan`` (or the selected ids) with its evaluation rule."""
    targets = plan.targets
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
        if f.year > end_year or f.year <= baseline.year:
            raise InputError(f"target '{f.id}' is for {f.year}, outside the horizon "
                             f"{baseline.year}-{end_year}", file=source_file, key="horizon.end",
                             path=("horizon", "end"))
        column, reason = _column_for(f, baseline, services_in_total, share_definition)
        specs.append(TargetSpec(
            id=f.id, indicator=f.indicator, scope=f.scope, year=f.year,
            threshold=f.canonical_value, unit=f.canonical_unit, qualifier=f.qualifier,
            kind=f.kind, source=plan.source_of(f), column=column, reason=reason))
    return specs


def replication_outcomes(annual: pd.DataFrame, specs: list[TargetSpec]) -> pd.DataFrame:
    """Per replication and evaluable target: the value in the target year and the first year
    (within the horizon, after the base year) in which the target level was reached."""
    rows = []
    years = annual["year"].to_numpy()
    reps = annual["replication"].to_numpy()
    # The structural variant of each replication (ODD 7.16), looked up once for all targets.
    variant = (annual.groupby("replication")["structure_converge"].first()
               if "structure_converge" in annual.columns else None)
    for spec in specs:
        if not spec.evaluable:
            continue
        values = annual[spec.column].to_numpy()
        frame = pd.DataFrame({"replication": reps, "year": years, "value": values})
        wide = frame.pivot(index="replication", columns="year", values="value")
        base_year = wide.columns.min()
        later = wide.loc[:, wide.columns > base_year]
        reached = later.to_numpy() >= spec.threshold
        first = np.where(reached.any(axis=1), later.columns.to_numpy()[reached.argmax(axis=1)],
                         np.nan)
        frame = pd.DataFrame({
            "replication": wide.index.to_numpy(), "target": spec.id,
            "value": wide[spec.year].to_numpy(), "first_met_year": first})
        if variant is not None:
            frame["structure"] = np.where(variant.loc[wide.index].to_numpy() > 0.5,
                                          "converge", "persist")
        rows.append(frame)
    if not rows:
        return pd.DataFrame(columns=["replication", "target", "value", "first_met_year"])
    return pd.concat(rows, ignore_index=True)
