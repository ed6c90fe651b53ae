"""Which figures size a plan's base year: a data question, answered from the plan file and the
region's published statistics before any model is built.

The model needs, for one year, the size of industry and of its SEI part. Plans state these in
different forms (SEI output with its share, or industrial value added with the SEI share of it), and a
figure may come from the plan, a statistics file or an assumption. The audit reports a plan that
supplies none; the model builds its baseline from the first complete form; ``seisim plan check``
lists the forms when none is complete.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.plans.schema import Plan
from sim.plans.statistics import load_statistics


def published_statistic(plan: Plan, measure: str, year: int):
    """The region's published full-year ``measure`` for ``year`` (exact or about), or None."""
    stats = load_statistics(plan.region, plan.file)
    if stats is None:
        return None
    found = [s for s in stats.find(measure, year=year, period="year")
             if s.qualifier in ("exact", "about")]
    return found[0] if found else None


#: The forms in which a plan can size its base-year industry and the SEI part of it, tried in
#: this order. Each figure may come from the plan, from the region's published statistics or from
#: an assumption written in the plan file. ``seisim plan check`` lists them when none is complete.
SIZING_FORMS: tuple[tuple[str, str], ...] = (
    ("sei_output", "sei_output_share"),
    ("sei_output", "industrial_output"),
    ("industrial_value_added", "sei_share_of_industrial_value_added"),
    ("above_scale_industrial_value_added", "sei_share_of_industrial_value_added"),
)
#: Plan indicator -> published-statistics measure with the same definition.
STATISTIC_MEASURE = {
    "sei_output": "sei_output", "sei_output_share": "sei_output_share",
    "industrial_output": "industrial_output",
    "above_scale_industrial_value_added": "industrial_value_added",
    "sei_share_of_industrial_value_added": "sei_share_of_industrial_value_added", "gdp": "gdp",
}
@dataclass(frozen=True)
class Sizing:
    """The two base-year figures that size the model's industry and its SEI part."""

    year: int
    form: tuple[str, str]
    values: tuple[float, float]
    sources: tuple[str, str]

    @property
    def coverage(self) -> str:
        """'all' when sized on all industry (全部工业), else 'above_scale' (规上)."""
        return "all" if self.form[0] == "industrial_value_added" else "above_scale"

    def describe(self) -> str:
        return "; ".join(f"{ind} {val:g} ({src})" for ind, val, src in
                         zip(self.form, self.values, self.sources))


def base_figure(plan: Plan, indicator: str, year: int) -> tuple[float, str] | None:
    """A region figure for ``year`` and where it comes from: the plan file (plan sections,
    statistics or assumptions written there), SEI output derived from next year's level and growth,
    or the region's published statistics; None when none has it."""
    found = plan.find(indicator, year=year, role="baseline")
    if found:
        f = found[0]
        drawn = (f"; range {f.canonical_range[0]:g}-{f.canonical_range[1]:g} drawn per "
                 "replication" if f.is_range else "")
        return f.canonical_value, plan.source_of(f) + drawn
    if indicator == "sei_output":
        nxt, growth = (plan.find("sei_output", year=year + 1, role="baseline"),
                       plan.value("sei_output_growth", year=year + 1))
        if nxt and growth is not None:
            return (nxt[0].canonical_value / (1 + growth / 100),
                    f"derived from {year + 1} output and growth ({plan.source_of(nxt[0])})")
    measure = STATISTIC_MEASURE.get(indicator)
    stat = published_statistic(plan, measure, year) if measure else None
    if stat is not None:
        return stat.value, f"statistic: {stat.source} ({stat.published})"
    return None


def find_sizing(plan: Plan, year: int | None = None) -> Sizing | None:
    """The first complete sizing form (in :data:`SIZING_FORMS` order) in the latest baseline year
    that has one, or in ``year`` if given."""
    years = [year] if year is not None else sorted(plan.baseline_years, reverse=True)
    for form in SIZING_FORMS:
        for y in years:
            pair = [base_figure(plan, ind, y) for ind in form]
            if all(p is not None for p in pair):
                return Sizing(y, form, (pair[0][0], pair[1][0]), (pair[0][1], pair[1][1]))
    return None


def sizing_problem(plan: Plan) -> str:
    """Why ``plan`` cannot be simulated, in one line, with the forms a user may supply."""
    forms = " | ".join(" + ".join(form) for form in SIZING_FORMS)
    have = sorted({f.indicator for f in plan.figures if f.role == "baseline"
                   and f.scope == "region" and any(f.indicator in form for form in SIZING_FORMS)})
    return (f"plan {plan.region} ({plan.version}) cannot be simulated: no base year has both "
            f"figures of one sizing form ({forms}), from the plan, its statistics file or an "
            f"assumption; it has {', '.join(have) or 'none of them'} (see seisim plan check "
            f"{plan.region})")
