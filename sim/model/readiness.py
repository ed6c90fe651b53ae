"""Can a plan be simulated, and on what? The answer behind ``seisim plan check``.

A user who writes a plan file for a new region needs to know, before running anything, whether the
model can start from it and, if not, exactly which figures are missing and in which forms they may be
supplied. When it can, they need to know what the run will rest on: which figures size the base year,
which industries carry firms, where GDP comes from, which targets will be scored, and which
assumptions the results depend on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.errors import InputError
from sim.model.baseline import build_baseline
from sim.plans.sizing import SIZING_FORMS, STATISTIC_MEASURE, find_sizing
from sim.model.params import ModelParams
from sim.plans.schema import Plan

SOURCE_FORMS = ("a plan figure (`source`: the document's section)",
                "a published statistic (`statistic: {publication, published}` in the plan file, "
                "or in seeds/statistics/<region>.yaml for " + ", ".join(
                    sorted({v for v in STATISTIC_MEASURE.values()})) + ")",
                "an assumption (`assumption: {by, why}`; a range [low, high] is drawn per "
                "replication and the results are labelled prior-driven)")


@dataclass
class PlanCheck:
    """Whether a plan version can be simulated, what it rests on, and what is missing."""

    region: str
    version: str
    simulable: bool
    base_year: int | None = None
    missing: list[str] = field(default_factory=list)
    basis: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        head = (f"{self.region} ({self.version}): "
                + (f"can be simulated from base year {self.base_year}" if self.simulable
                   else "cannot be simulated"))
        out = [head]
        for title, items in (("missing", self.missing), ("rests on", self.basis),
                             ("targets", self.targets),
                             ("assumptions the results rest on", self.assumptions)):
            if items:
                out += ["", f"{title}:"] + [f"  - {line}" for line in items]
        return "\n".join(out)


def check_plan(plan: Plan) -> PlanCheck:
    """Check ``plan`` for simulation (see the module docstring)."""
    check = PlanCheck(plan.region, plan.version, simulable=False)
    check.assumptions = [f"{f.id} = {_shown(f)} {f.unit} ({f.year}): by {f.assumption.by}; "
                         f"{f.assumption.why}" for f in plan.assumptions]
    sizing = find_sizing(plan)
    if sizing is None:
        have = sorted({f"{f.indicator} {f.year}" for f in plan.figures if f.role == "baseline"
                       and f.scope == "region"
                       and any(f.indicator in form for form in SIZING_FORMS)})
        check.missing.append(
            "a base-year size of industry and of its SEI part: for one baseline year, both "
            "figures of one of these forms: " + "; ".join(
                f"({k}) {' + '.join(form)}" for k, form in enumerate(SIZING_FORMS, 1))
            + ". Each may be " + "; or ".join(SOURCE_FORMS) + ". The plan has: "
            + (", ".join(have) or "none of these figures") + ".")
    if not plan.industrial_industries:
        check.missing.append("an industrial industry flagged `sei: true`: the model's firms live "
                             "in SEI industries" + (f" (the plan flags none of {len(plan.industries)})"
                                                    if plan.industries else ""))
    if not plan.all_targets:
        check.missing.append("targets: the plan file has none, so there is nothing to score "
                             "(add role: target figures)")
    if sizing is None or not plan.industrial_industries:
        return check
    try:
        baseline = build_baseline(plan, ModelParams())
    except InputError as exc:
        check.missing.append(exc.problem)
        return check
    check.simulable, check.base_year = True, baseline.year
    check.basis = [f"industry sized by {sizing.describe()}",
                   f"industry covered: {'all industry (全部工业)' if baseline.industry_coverage == 'all' else 'above-scale industry (规上)'}",
                   f"SEI industries with firm agents: {', '.join(baseline.industries)}"]
    future = [i.id for i in plan.industrial_industries if i.group == "future"]
    if future:
        check.basis.append(f"future industries start empty: {', '.join(future)}")
    if baseline.non_sei_industries:
        check.basis.append("named but not SEI (part of the rest of industry): "
                           + ", ".join(baseline.non_sei_industries))
    check.basis += [n for n in baseline.notes if n.startswith(("GDP", "no GDP", "fund", "no fund"))]
    check.targets = _target_lines(plan, baseline)
    return check


def _shown(f) -> str:
    low, high = f.canonical_range
    return f"{low:g}-{high:g}" if f.is_range else f"{low:g}"


def _target_lines(plan: Plan, baseline) -> list[str]:
    from sim.outcomes import target_specs

    early = [f for f in plan.targets if f.year <= baseline.year]  # baselines, in effect
    kept = [f.id for f in plan.all_targets if f not in early]
    end = max([f.year for f in plan.targets if f not in early] + [baseline.year + 1])
    lines = []
    for spec in target_specs(plan, baseline, end, select=kept) if kept else []:
        when = spec.year if spec.year is not None else "undated"
        if spec.evaluable:
            lines.append(f"{spec.id} ({when}): scored on `{spec.column}` at "
                         f"{spec.threshold:g} {spec.unit}" + (f" ({spec.rule})" if spec.rule else ""))
        else:
            lines.append(f"{spec.id} ({when}): listed, not scored: {spec.reason}")
    return lines + [f"{f.id} ({f.year}): listed, not scored: dated at or before the base year "
                    f"{baseline.year}" for f in early]
