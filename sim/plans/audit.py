"""The plan audit: is a plan consistent with itself and with its other published versions?

Economists judging a plan first ask whether its own numbers hold together, and only then whether
it can be reached. The audit answers with findings that show their arithmetic and cite the plan's
sections, so a reader can redo each one by hand. It reads only the plan's figures; it simulates
nothing.

Ten kinds of check (``Finding.check``):

``sum``
    industry or park lines against the region total of the same indicator and year.
``implied_total``
    what a level and its share imply for the denominator: above-scale industrial output from SEI
    output and its share, GDP from SEI value added and its share, the non-SEI rest, and their
    growth.
``implied_denominator``
    every amount/share pair of the indicator registry (``Indicator.share_of``), e.g. industrial
    value added and its share of GDP, technology-contract turnover and its share of GDP: the
    denominator each pair implies, as an interval (printed rounding, "about" +-5%, "more than" open
    above), against the other pairs of the same year, the plan's own figure of the denominator and
    the region's published statistic of it (baselines only: a target against what happened is the
    back-test's business). When one of a pair is a floor, what the other one implies for it.
``class_total``
    cluster size classes against totals: clusters counted by class (``cluster_count``, value x
    class floor) or one industry's class (``cluster_class``) need at least the sum of their floors,
    which an output (or revenue) total of the same year must hold (``error`` if it cannot); a
    value-added total below the floors is a ``warning`` unless an output total of that year holds
    them.
``required_cagr``
    the yearly growth a target needs from its latest baseline, against the growth the plan reports
    for earlier years (percentage points per year for shares).
``stage_pace``
    targets in several years: the pace each stage needs (latest baseline -> first target, then
    target -> next target), and a warning when a stage needs more than 1.5 times the pace of the
    stage before it.
``version_difference``
    figures and items that differ between published versions of the same plan.
``definition``
    totals that mix measures: services output inside a share of *industrial* output, value added
    that is not below the output it comes from.
``consistency``
    the same figure printed twice in one version with different values.
``coverage``
    what the plan lets the audit and the model do: no targets at all, undated and unquantified
    (一批) targets that are never scored, dated targets on indicators the model does not simulate,
    figures that rest on assumptions or come from published statistics.

Ranges count at their middle (``Figure.canonical_value``) in point arithmetic and as their range in
intervals; undated and unquantified figures (``Plan.unquantified``) enter no arithmetic.

Rates and shares in ``Finding.numbers`` are in percent; amounts in the indicator's canonical unit.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field

from sim.errors import InputError
from sim.plans.schema import (ABOUT_TOLERANCE, INDICATORS, SHARE_INDICATORS, UNIT_FACTORS, Figure,
                              Plan)
from sim.plans.sizing import find_sizing, sizing_problem

CHECKS = {
    "sum": "Sub-targets vs totals",
    "implied_total": "Implied totals (output/share pairs)",
    "implied_denominator": "Denominators implied by amount/share pairs",
    "class_total": "Cluster size classes vs totals",
    "required_cagr": "Required growth vs history",
    "stage_pace": "Pace of each stage of multi-year targets",
    "version_difference": "Differences between plan versions",
    "definition": "Definitional problems",
    "consistency": "Figures printed twice with different values",
    "coverage": "What the audit and the model can use",
}
SEVERITIES = ("error", "warning", "info")

#: Values below this are equal: plans print at most two decimals.
TOLERANCE = 0.005

#: Indicators whose industry or park lines add up to the region figure. Cluster classes are size
#: classes, not amounts, so they never add up.
ADDITIVE = {k for k, ind in INDICATORS.items() if ind.additive}
#: Levels whose growth to a target is meaningful; the excluded ones are flows summed over a period.
LEVELS = {k for k, ind in INDICATORS.items() if ind.kind in ("amount", "count")}
#: The plan's own growth figure for a level, used as history when only one baseline year exists.
GROWTH_OF = {"sei_output": "sei_output_growth", "sei_value_added": "sei_value_added_growth"}
#: (level, its share, what the share is of, what the rest is called)
SHARE_PAIRS = (
    ("sei_output", "sei_output_share", "above-scale industrial output",
     "non-SEI industrial output"),
    ("sei_value_added", "sei_value_added_share_gdp", "GDP", "non-SEI GDP"),
)

QUALIFIER_MARK = {"exact": "", "about": "~", "more_than": ">", "at_least": ">=", "class": "class ",
                  "batch": ""}
#: Qualifiers that bound a value from below only.
FLOORS = ("more_than", "at_least", "class")


@dataclass(frozen=True)
class Finding:
    """One result of the audit, with the arithmetic a reader can check by hand."""

    check: str                # one of CHECKS
    severity: str             # error | warning | info
    title: str
    arithmetic: str
    numbers: dict[str, float] = field(default_factory=dict)
    sources: tuple[str, ...] = ()   # "<document>, <section>" of every figure involved
    figures: tuple[str, ...] = ()   # ids of the figures involved
    indicator: str = ""
    year: int | None = None


@dataclass
class AuditReport:
    """The audit of one plan version: a list of findings with tabular, JSON and text views."""

    region: str
    version: str
    title: str
    document: str
    compared_with: tuple[str, ...]
    findings: list[Finding]

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def select(self, check: str | None = None, severity: str | None = None,
               indicator: str | None = None, year: int | None = None) -> list[Finding]:
        return [f for f in self.findings
                if (check is None or f.check == check)
                and (severity is None or f.severity == severity)
                and (indicator is None or f.indicator == indicator)
                and (year is None or f.year == year)]

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    def to_dict(self) -> dict:
        return {"region": self.region, "version": self.version, "title": self.title,
                "document": self.document, "compared_with": list(self.compared_with),
                "counts": self.counts,
                "findings": [{**asdict(f), "sources": list(f.sources), "figures": list(f.figures)}
                             for f in self.findings]}

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    def to_frame(self):
        import pandas as pd

        rows = [{"region": self.region, "version": self.version, **asdict(f),
                 "sources": "; ".join(f.sources), "figures": ", ".join(f.figures)}
                for f in self.findings]
        columns = ["region", "version", "check", "severity", "indicator", "year", "title",
                   "arithmetic", "numbers", "sources", "figures"]
        return pd.DataFrame(rows, columns=columns)

    def to_text(self) -> str:
        counts = self.counts
        lines = [f"Plan audit: {self.region}, version {self.version} ({self.title})",
                 f"Document: {self.document}",
                 "Compared with versions: " + (", ".join(self.compared_with) or "none"),
                 f"{len(self.findings)} findings: {counts['error']} errors, "
                 f"{counts['warning']} warnings, {counts['info']} info"]
        for check, heading in CHECKS.items():
            found = self.select(check=check)
            if not found:
                continue
            lines += ["", f"== {heading} ({check}) =="]
            for f in found:
                lines.append(f"[{f.severity}] {f.title}")
                lines.append(f"    {f.arithmetic}")
                if f.sources:
                    lines.append("    source: " + "; ".join(f.sources))
        return "\n".join(lines)

    __str__ = to_text


def audit_plan(plan: Plan, others: Iterable[Plan] | None = None) -> AuditReport:
    """Audit one version of a plan; ``others`` are other versions of it to compare with.

    When ``others`` is None the plan's other versions are read from the file it was loaded from.
    """
    if others is None:
        others = _other_versions(plan)
    others = [o for o in others if o.version != plan.version]
    for other in others:
        if other.region != plan.region:
            raise InputError(f"cannot compare {plan.region} with another region's plan "
                             f"({other.region}); pass other versions of the same plan")
    statistics, unread = _published_statistics(plan)
    findings = (check_sums(plan) + check_implied_totals(plan)
                + check_implied_denominators(plan, statistics) + check_class_totals(plan)
                + check_required_growth(plan) + check_stage_pace(plan)
                + [f for other in others for f in check_versions(plan, other)]
                + check_definitions(plan) + check_consistency(plan) + check_coverage(plan)
                + unread)
    return AuditReport(region=plan.region, version=plan.version, title=plan.title,
                       document=plan.document, compared_with=tuple(o.version for o in others),
                       findings=findings)


def _published_statistics(plan: Plan):
    """The region's published statistics (None if it has none), and a finding if its statistics
    file cannot be read: the audit of the plan goes on without them."""
    from sim.plans.loader import plan_path
    from sim.plans.statistics import load_statistics

    try:
        path = str(plan_path(plan))
    except InputError:
        path = None
    try:
        return load_statistics(plan.region, path), []
    except InputError as exc:
        return None, [Finding("coverage", "warning", "Published statistics not read",
                              f"{exc}; the audit compares no implied figure with statistics")]


def _other_versions(plan: Plan) -> list[Plan]:
    if len(plan.versions) < 2:
        return []
    from sim.plans.loader import load_all_versions, plan_path

    return [p for p in load_all_versions(plan_path(plan)) if p.version != plan.version]


# Formatting ------------------------------------------------------------------------------------
def num(x: float, digits: int = 2) -> str:
    """A number as a reader writes it: at most ``digits`` decimals, no trailing zeros."""
    text = f"{x:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def shown(f: Figure) -> str:
    """A figure's canonical value with its qualifier (>130 for 'more than 130'); a range as its
    middle, the number arithmetic uses, with the range ('10 (middle of 5-15)')."""
    if f.value is None:
        return "一批 (no number)"
    if f.is_range:
        low, high = f.canonical_range
        return f"{num(f.canonical_value)} (middle of {num(low)}-{num(high)})"
    return QUALIFIER_MARK[f.qualifier] + num(f.canonical_value)


def _pct(rate: float) -> str:
    return f"{num(100 * rate)}%"


def _r(x: float) -> float:
    """Round away float noise (661.5500000000001) from numbers put into findings."""
    return round(x, 6)


def _decimals(x: float) -> int:
    return len(f"{x:.6f}".rstrip("0").split(".")[1])


def precise(figures: list[Figure]) -> Figure:
    """Of a figure printed more than once, the plain figure with the most decimals (666.2 over 666).

    Checks other than ``consistency`` use this one, and ``consistency`` reports the difference.
    """
    return max(figures, key=lambda f: (f.qualifier == "exact", _decimals(f.canonical_value)))


def _key(f: Figure) -> tuple:
    return (f.indicator, f.scope, f.year, f.threshold)


def _grouped(figures: Iterable[Figure]) -> dict[tuple, list[Figure]]:
    groups: dict[tuple, list[Figure]] = defaultdict(list)
    for f in figures:
        groups[_key(f)].append(f)
    return groups


def _region_figure(plan: Plan, indicator: str, year: int) -> Figure | None:
    found = plan.find(indicator, year=year)
    return precise(found) if found else None


def _sources(plan: Plan, figures: Iterable[Figure]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(plan.source_of(f) for f in figures))


def _label(f: Figure) -> str:
    threshold = f" over {num(f.threshold)}" if f.threshold is not None else ""
    scope = "" if f.scope == "region" else f" ({f.scope})"
    return f"{f.indicator}{threshold}{scope}"


def with_unit(f: Figure) -> str:
    """'>130 亿元', '~13%', '5-15%'."""
    unit = f.canonical_unit
    unit = unit if unit == "%" else f" {unit}"
    if f.value is None:
        return f"一批 (no number){unit}"
    if f.is_range:
        low, high = f.canonical_range
        return f"{num(low)}-{num(high)}{unit}"
    return shown(f) + unit


def _section(plan: Plan, f: Figure) -> str:
    """Where a figure is printed, or where it comes from if the plan does not print it."""
    return f.source[plan.version] if f.source is not None else plan.source_of(f)


# Checks ----------------------------------------------------------------------------------------
def check_sums(plan: Plan) -> list[Finding]:
    """Industry lines and park lines against every region total of the same indicator and year."""
    lines: dict[tuple, dict[str, list[Figure]]] = defaultdict(lambda: defaultdict(list))
    for f in plan.figures:
        if f.indicator in ADDITIVE and f.scope_kind in ("industry", "park"):
            lines[(f.indicator, f.year, f.threshold, f.scope_kind)][f.scope].append(f)
    out = []
    order = sorted(lines, key=lambda k: (k[0], k[1], k[3]))  # indicator, year, industry before park
    for indicator, year, threshold, kind in order:
        by_scope = lines[(indicator, year, threshold, kind)]
        parts = [precise(figs) for figs in by_scope.values()]
        if len(parts) < 2:
            continue
        total_sum = _r(sum(p.canonical_value for p in parts))
        terms = " + ".join(shown(p) for p in parts)
        for total in plan.find(indicator, year=year, threshold=threshold):
            diff = _r(total_sum - total.canonical_value)
            rel = 100 * diff / total.canonical_value if total.canonical_value else 0.0
            if abs(diff) < TOLERANCE:
                severity, verdict = "info", "consistent"
                arithmetic = f"{terms} = {num(total_sum)} = total {shown(total)} ({total.id})"
            else:
                severity, verdict = "warning", f"differ by {num(diff)} {total.canonical_unit}"
                arithmetic = (f"{terms} = {num(total_sum)} vs total {shown(total)} ({total.id}) "
                              f"(diff {num(diff)}, {num(rel)}%)")
            numbers = {p.scope: p.canonical_value for p in parts}
            numbers.update(sum=total_sum, total=total.canonical_value, diff=diff,
                           diff_pct=_r(rel))
            out.append(Finding(
                "sum", severity,
                f"{kind.capitalize()} lines vs region total: {_label(total)} {year}, {verdict}",
                arithmetic, numbers, _sources(plan, parts + [total]),
                tuple(p.id for p in parts) + (total.id,), indicator, year))
    return out


def check_implied_totals(plan: Plan) -> list[Finding]:
    """Denominators implied by level/share pairs, their non-SEI remainder, and how they grow."""
    out = []
    for level_ind, share_ind, whole, rest_name in SHARE_PAIRS:
        implied: list[tuple[int, float, float, list[Figure]]] = []
        for year in sorted({f.year for f in plan.find(level_ind)}):
            level = _region_figure(plan, level_ind, year)
            share = _region_figure(plan, share_ind, year)
            if (level is None or share is None or share.canonical_value <= 0
                    or level.canonical_value <= 0):
                continue
            total = level.canonical_value / (share.canonical_value / 100)
            rest = total - level.canonical_value
            implied.append((year, total, rest, [level, share]))
            role = " (targets)" if "target" in (level.role, share.role) else ""
            out.append(Finding(
                "implied_total", "info", f"Implied {whole} {year}{role}: {num(total, 0)} 亿元",
                f"{shown(level)} / {shown(share)}% = {num(total)}; {rest_name} = {num(total)} - "
                f"{num(level.canonical_value)} = {num(rest)}",
                {"level": level.canonical_value, "share": share.canonical_value,
                 "implied_total": _r(total), "implied_rest": _r(rest)},
                _sources(plan, [level, share]), (level.id, share.id), share_ind, year))
        for (y0, t0, r0, f0), (y1, t1, r1, f1) in zip(implied, implied[1:]):
            n = y1 - y0
            if r0 <= 0 or r1 <= 0:  # a 100% share leaves no rest to grow
                continue
            growth, rest_growth = (t1 / t0) ** (1 / n) - 1, (r1 / r0) ** (1 / n) - 1
            out.append(Finding(
                "implied_total", "info",
                f"Implied {whole} {y0}->{y1}: {_pct(growth)}/yr "
                f"({rest_name} {_pct(rest_growth)}/yr)",
                f"({num(t1)} / {num(t0)})^(1/{n}) - 1 = {_pct(growth)}/yr; {rest_name}: "
                f"({num(r1)} / {num(r0)})^(1/{n}) - 1 = {_pct(rest_growth)}/yr",
                {"implied_total_start": _r(t0), "implied_total_end": _r(t1),
                 "cagr": _r(100 * growth), "implied_rest_start": _r(r0),
                 "implied_rest_end": _r(r1), "rest_cagr": _r(100 * rest_growth)},
                _sources(plan, f0 + f1), tuple(f.id for f in f0 + f1), share_ind, y1))
    return out


def check_required_growth(plan: Plan) -> list[Finding]:
    """For each level or share target: the pace it needs from the latest baseline vs past pace."""
    out = []
    for (indicator, scope, year, threshold), figs in _grouped(plan.figures).items():
        targets = [f for f in figs if f.role == "target"]
        if not targets or indicator not in LEVELS | SHARE_INDICATORS:
            continue
        target = precise(targets)
        baselines = [f for f in plan.figures if f.role == "baseline" and f.year < year
                     and (f.indicator, f.scope, f.threshold) == (indicator, scope, threshold)]
        if not baselines:
            out.append(Finding("required_cagr", "info",
                               f"No baseline for target {_label(target)} {year}",
                               f"target {with_unit(target)}; the plan gives no earlier value of "
                               "the same indicator and scope in this version",
                               {"target": target.canonical_value}, _sources(plan, [target]),
                               (target.id,), indicator, year))
            continue
        years = sorted({f.year for f in baselines})
        base = precise([f for f in baselines if f.year == years[-1]])
        first = precise([f for f in baselines if f.year == years[0]]) if len(years) > 1 else None
        if indicator in SHARE_INDICATORS:
            out.append(_share_pace(plan, target, base, first))
        elif base.canonical_value > 0:
            growth = (_region_figure(plan, GROWTH_OF[indicator], base.year)
                      if indicator in GROWTH_OF and scope == "region" else None)
            out.append(_level_pace(plan, target, base, first, growth))
    return out


def _share_pace(plan: Plan, target: Figure, base: Figure, first: Figure | None) -> Finding:
    n = target.year - base.year
    need = (target.canonical_value - base.canonical_value) / n
    arithmetic = f"({shown(target)} - {shown(base)}) / {n} = {num(need)} pp/yr"
    numbers = {"baseline": base.canonical_value, "target": target.canonical_value,
               "baseline_year": base.year, "target_year": target.year,
               "required_pp_per_year": _r(need)}
    title = f"Required change {_label(target)} {base.year}->{target.year}: {num(need)} pp/yr"
    severity, used = "info", [base, target]
    if first is not None:
        m = base.year - first.year
        past = (base.canonical_value - first.canonical_value) / m
        arithmetic += (f"; historical {first.year}->{base.year}: ({shown(base)} - {shown(first)}) "
                       f"/ {m} = {num(past)} pp/yr")
        numbers["historical_pp_per_year"] = _r(past)
        title += f" vs historical {num(past)} pp/yr"
        severity = "warning" if need > past + TOLERANCE else "info"
        used.insert(0, first)
    return Finding("required_cagr", severity, title, arithmetic, numbers, _sources(plan, used),
                   tuple(f.id for f in used), target.indicator, target.year)


def _level_pace(plan: Plan, target: Figure, base: Figure, first: Figure | None,
                growth: Figure | None) -> Finding:
    n = target.year - base.year
    need = (target.canonical_value / base.canonical_value) ** (1 / n) - 1
    arithmetic = f"({shown(target)} / {shown(base)})^(1/{n}) - 1 = {_pct(need)}/yr"
    numbers = {"baseline": base.canonical_value, "target": target.canonical_value,
               "baseline_year": base.year, "target_year": target.year,
               "required_cagr": _r(100 * need)}
    title = f"Required growth {_label(target)} {base.year}->{target.year}: {_pct(need)}/yr"
    used, past = [base, target], None
    if first is not None and first.canonical_value > 0:
        m = base.year - first.year
        past = (base.canonical_value / first.canonical_value) ** (1 / m) - 1
        arithmetic += (f"; historical {first.year}->{base.year}: ({shown(base)} / {shown(first)})"
                       f"^(1/{m}) - 1 = {_pct(past)}/yr")
        used.insert(0, first)
    elif growth is not None:
        past = growth.canonical_value / 100
        arithmetic += f"; historical: growth in {growth.year} = {_pct(past)} (one year)"
        used.insert(0, growth)
    severity = "info"
    if past is not None:
        numbers["historical_cagr"] = _r(100 * past)
        title += f" vs historical {_pct(past)}/yr"
        severity = "warning" if need > past else "info"
    if base.qualifier in ("more_than", "at_least"):
        arithmetic += " (the baseline is a floor, so the required rate is at most this)"
    return Finding("required_cagr", severity, title, arithmetic, numbers, _sources(plan, used),
                   tuple(f.id for f in used), target.indicator, target.year)


def check_versions(plan: Plan, other: Plan) -> list[Finding]:
    """Figures that differ between two versions, and items found in only one of them.

    Figures are matched by id; ones left over are matched by indicator, scope, year and threshold
    when that identifies a single figure on each side. Undated, unquantified and unscored figures
    are compared too: what a version prints is the same question whether or not it is scored.
    """
    listed, other_listed = (list(plan.figures) + list(plan.unquantified),
                            list(other.figures) + list(other.unquantified))
    mine, theirs = {f.id: f for f in listed}, {f.id: f for f in other_listed}
    pairs = [(mine[i], theirs[i]) for i in mine if i in theirs]
    left = [f for f in listed if f.id not in theirs]
    right = [f for f in other_listed if f.id not in mine]
    lk, rk = _grouped(left), _grouped(right)
    for key in list(lk):
        if len(lk[key]) == 1 and len(rk.get(key, [])) == 1:
            pairs.append((lk[key][0], rk[key][0]))
            left.remove(lk[key][0])
            right.remove(rk[key][0])

    out = []
    versions = f"{plan.version} vs {other.version}"
    for a, b in pairs:
        if a.value is None or b.value is None or a.year != b.year:
            if a.year == b.year and (a.value is None) == (b.value is None):
                continue  # both unquantified (一批) for the same year
            numbers = {k: f.canonical_value for k, f in (("value", a), ("other_value", b))
                       if f.value is not None}
            what = "year differs" if a.year != b.year else "quantified in one version only"
            out.append(Finding(
                "version_difference", "warning", f"{_label(a)} {a.year}: {what} ({versions})",
                f"{plan.version}: {with_unit(a)} in {a.year or '(no year)'} vs {other.version}: "
                f"{with_unit(b)} in {b.year or '(no year)'}", numbers,
                (plan.source_of(a), other.source_of(b)), (a.id, b.id), a.indicator, a.year))
            continue
        va, vb = a.canonical_value, b.canonical_value
        if abs(va - vb) >= TOLERANCE:
            diff = va - vb
            rel = f", {num(100 * diff / vb)}%" if vb else ""
            severity, what = "warning", f"value differs ({versions})"
            arithmetic = (f"{plan.version}: {with_unit(a)} vs {other.version}: {with_unit(b)} "
                          f"(diff {num(diff)}{rel})")
        elif a.qualifier != b.qualifier:
            diff = 0.0
            severity, what = "info", f"qualifier differs ({versions})"
            arithmetic = (f"{plan.version}: {with_unit(a)} ({a.qualifier}) vs {other.version}: "
                          f"{with_unit(b)} ({b.qualifier})")
        else:
            continue
        out.append(Finding("version_difference", severity, f"{_label(a)} {a.year}: {what}",
                           arithmetic, {"value": va, "other_value": vb, "diff": _r(diff)},
                           (plan.source_of(a), other.source_of(b)), (a.id, b.id),
                           a.indicator, a.year))

    def only_in(owner: Plan, kind: str, item, label: str) -> Finding:
        return Finding("version_difference", "info",
                       f"{kind} {item.id} only in version {owner.version} ({versions})",
                       f"{label} appears in version {owner.version} and not in the other",
                       {"value": item.canonical_value}
                       if kind == "figure" and item.value is not None else {},
                       (owner.source_of(item),), (item.id,) if kind == "figure" else (),
                       getattr(item, "indicator", ""), getattr(item, "year", None))

    for kind, section in (("industry", "industries"), ("park", "parks"), ("fund", "funds")):
        a_ids = {it.id for it in getattr(plan, section)}
        b_ids = {it.id for it in getattr(other, section)}
        for owner, items, missing in ((plan, getattr(plan, section), b_ids),
                                      (other, getattr(other, section), a_ids)):
            out += [only_in(owner, kind, it, f"{it.name} ({it.name_en})")
                    for it in items if it.id not in missing]
    for owner, figs in ((plan, left), (other, right)):
        out += [only_in(owner, "figure", f, f"{_label(f)} {f.year} = {with_unit(f)}")
                for f in figs]
    return out


def check_definitions(plan: Plan) -> list[Finding]:
    """Totals that mix measures the guide says never to mix."""
    out = []
    services = {f"industry:{i.id}" for i in plan.service_industries}
    for year in sorted({f.year for f in plan.find("sei_output")}):
        total, share = _region_figure(plan, "sei_output", year), \
            _region_figure(plan, "sei_output_share", year)
        lines = [precise(fs) for fs in _grouped(
            f for f in plan.figures
            if f.indicator == "sei_output" and f.year == year and f.scope in services).values()]
        if total is None or share is None or not lines or share.canonical_value <= 0:
            continue
        o, s = total.canonical_value, share.canonical_value
        svc = _r(sum(f.canonical_value for f in lines))
        whole = o / (s / 100)
        share_without = 100 * (o - svc) / whole
        names = ", ".join(f.scope_id for f in lines)
        out.append(Finding(
            "definition", "warning",
            f"SEI output {year} counts services ({names}) in a share of industrial output",
            f"with services: {shown(total)} / {shown(share)}% = {num(whole)} industrial output; "
            f"without services: {num(o)} - {num(svc)} = {num(o - svc)}, "
            f"{num(o - svc)} / {num(whole)} = {num(share_without)}% (or {num(o - svc)} / "
            f"{shown(share)}% = {num((o - svc) / (s / 100))} industrial output)",
            {"total": o, "services": svc, "total_without_services": _r(o - svc), "share": s,
             "implied_industrial_output": _r(whole),
             "share_without_services": _r(share_without),
             "implied_industrial_output_without_services": _r((o - svc) / (s / 100))},
            _sources(plan, [total, share, *lines]), (total.id, share.id, *(f.id for f in lines)),
            "sei_output", year))

    previous = None
    for year in sorted({f.year for f in plan.find("sei_value_added")}):
        output, va = _region_figure(plan, "sei_output", year), \
            _region_figure(plan, "sei_value_added", year)
        if output is None or va is None or output.canonical_value <= 0:
            continue
        ratio = 100 * va.canonical_value / output.canonical_value
        arithmetic = f"{shown(va)} / {shown(output)} = {num(ratio)}% value added per unit of output"
        if previous is not None:
            arithmetic += f" (was {num(previous[1])}% in {previous[0]})"
        if va.canonical_value >= output.canonical_value:
            severity = "error"
            title = (f"SEI value added {year} is not below SEI output: one of them is probably "
                     "mislabelled (增加值 vs 产值)")
        else:
            severity, title = "info", f"Value added / output {year}: {num(ratio)}%"
        numbers = {"value_added": va.canonical_value, "output": output.canonical_value,
                   "ratio_pct": _r(ratio)}
        if previous is not None:
            numbers["previous_ratio_pct"] = _r(previous[1])
        out.append(Finding("definition", severity, title, arithmetic, numbers,
                           _sources(plan, [va, output]), (va.id, output.id), "sei_value_added",
                           year))
        previous = (year, ratio)
    return out


def check_consistency(plan: Plan) -> list[Finding]:
    """The same indicator, scope, year and role printed more than once with different values."""
    out = []
    for key, figs in _grouped(plan.figures).items():
        for role in ("baseline", "target"):
            same = [f for f in figs if f.role == role]
            if len({round(f.canonical_value, 6) for f in same}) < 2:
                continue
            best = precise(same)
            rounded = all(round(best.canonical_value, _decimals(f.canonical_value))
                          == f.canonical_value for f in same)
            listed = " vs ".join(f"{shown(f)} ({f.id}, {_section(plan, f)})" for f in same)
            if rounded:
                severity, verdict = "info", f"differ only by rounding {num(best.canonical_value)}"
            else:
                severity, verdict = "warning", "differ"
            spread = _r(max(f.canonical_value for f in same) - min(f.canonical_value for f in same))
            out.append(Finding(
                "consistency", severity,
                f"{_label(best)} {key[2]} printed {len(same)} times: values {verdict}",
                f"{listed} (spread {num(spread)} {best.canonical_unit})",
                {f.id: f.canonical_value for f in same} | {"spread": spread},
                _sources(plan, same), tuple(f.id for f in same), key[0], key[2]))
    return out


# Intervals -------------------------------------------------------------------------------------
def _interval(value: float, qualifier: str, *, factor: float = 1.0, tolerance: float | None = None,
              integer: bool = False) -> tuple[float, float]:
    """What a printed number allows, in canonical units: an exact number anything that rounds to
    it (half a unit of its last printed digit; integers of counts are exact), 'about' within its
    tolerance (``ABOUT_TOLERANCE`` by default), a floor (more than, at least, class) up to
    infinity, 'less than' down to 0."""
    if qualifier in FLOORS:
        return value * factor, math.inf
    if qualifier == "less_than":
        return 0.0, value * factor
    if qualifier == "about":
        t = tolerance or ABOUT_TOLERANCE
        return value * (1 - t) * factor, value * (1 + t) * factor
    half = 0.0 if integer else 0.5 * 10 ** -_decimals(value)
    low = value - half if value < 0 or value - half >= 0 else 0.0
    return low * factor, (value + half) * factor


def bounds(f: Figure) -> tuple[float, float]:
    """(low, high) a figure allows in its canonical unit; high is ``math.inf`` for a floor."""
    if f.is_range:
        return f.canonical_range
    factor = UNIT_FACTORS[f.unit][1]
    integer = INDICATORS[f.indicator].kind == "count" and factor == 1
    return _interval(f.value, f.qualifier, factor=factor, tolerance=f.tolerance, integer=integer)


def _span(low: float, high: float) -> str:
    if high == math.inf:
        return "any value" if low <= 0 else f"at least {num(low)}"
    return num(low) if _r(low) == _r(high) else f"{num(low)} to {num(high)}"


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return max(a[0], b[0]) <= min(a[1], b[1]) * (1 + 1e-9)


def _finite(numbers: dict[str, float], **values: float) -> dict[str, float]:
    """``numbers`` with the finite ones of ``values`` added (JSON has no infinity)."""
    numbers.update({k: _r(v) for k, v in values.items() if math.isfinite(v)})
    return numbers


# Implied denominators --------------------------------------------------------------------------
#: Denominators with a published-statistic measure of the same definition.
DENOMINATOR_STATISTIC = {"gdp": "gdp", "industrial_output": "industrial_output"}
#: Amount/share pairs whose implied denominators ``implied_total`` already reports one by one.
COVERED_PAIRS = {(level, share) for level, share, _, _ in SHARE_PAIRS}


@dataclass(frozen=True)
class _Implied:
    """The denominator one amount/share pair of a year implies."""

    amount: Figure
    share: Figure
    denominator: str
    low: float
    high: float

    @property
    def point(self) -> float:
        return self.amount.canonical_value / self.share.canonical_value * 100

    @property
    def informative(self) -> bool:
        """False when both figures are floors: the pair then bounds neither side."""
        return self.low > 0 or self.high < math.inf

    @property
    def floors(self) -> bool:
        return self.amount.qualifier in FLOORS or self.share.qualifier in FLOORS

    @property
    def about(self) -> bool:
        return "about" in (self.amount.qualifier, self.share.qualifier)

    @property
    def label(self) -> str:
        return (f"{self.denominator} {self.amount.year} implied by {self.amount.indicator} and "
                "its share")

    @property
    def text(self) -> str:
        text = f"{shown(self.amount)} / {shown(self.share)}% = {num(self.point)}"
        if not (_r(self.low) == _r(self.point) == _r(self.high)):
            text += f" ({_span(self.low, self.high)} with rounding and qualifiers)"
        return text


@dataclass(frozen=True)
class _Reference:
    """A value of the denominator to compare an implied one with."""

    what: str
    text: str
    point: float
    low: float
    high: float
    about: bool
    figures: tuple[Figure, ...] = ()
    sources: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    #: whether ``text`` already shows the interval
    spanned: bool = False


def _implied(amount: Figure, share: Figure, denominator: str) -> _Implied:
    a_low, a_high = bounds(amount)
    s_low, s_high = bounds(share)
    low = a_low / s_high * 100 if s_high < math.inf else 0.0
    high = a_high / s_low * 100 if s_low > 0 and a_high < math.inf else math.inf
    return _Implied(amount, share, denominator, low, high)


def check_implied_denominators(plan: Plan, statistics=None) -> list[Finding]:
    """Every amount/share pair of the registry: the denominator it implies against the other pairs,
    the plan's figure of the denominator and its published statistic (``statistics``, as returned
    by :func:`sim.plans.statistics.load_statistics`; baselines only)."""
    by_denominator: dict[tuple[str, int], list[_Implied]] = defaultdict(list)
    for share_ind, ind in INDICATORS.items():
        if ind.kind != "share" or ind.share_of is None:
            continue
        amount_ind, denominator = ind.share_of
        for year in sorted({f.year for f in plan.find(share_ind)}):
            amount = _region_figure(plan, amount_ind, year)
            share = _region_figure(plan, share_ind, year)
            if amount is None or share is None or share.canonical_value <= 0:
                continue
            by_denominator[(denominator, year)].append(_implied(amount, share, denominator))

    out = []
    for (denominator, year), pairs in sorted(by_denominator.items(), key=lambda kv: kv[0][::-1]):
        compared: set[int] = set()
        stated = _region_figure(plan, denominator, year)
        if stated is not None:
            low, high = bounds(stated)
            ref = _Reference(f"plan figure {stated.id}", shown(stated), stated.canonical_value,
                             low, high, stated.qualifier == "about", (stated,))
            for k, pair in enumerate(pairs):
                out.append(_compare(plan, pair, ref, year))
                compared.add(k)
        published = _statistic_reference(statistics, denominator, year)
        if published is not None:
            for k, pair in enumerate(pairs):
                if pair.amount.role == pair.share.role == "baseline":
                    out.append(_compare(plan, pair, published, year))
                    compared.add(k)
        for i, j in ((i, j) for i in range(len(pairs)) for j in range(i + 1, len(pairs))):
            p, q = pairs[i], pairs[j]
            if not p.informative:
                p, q = q, p
            if not p.informative:
                continue  # two pairs of floors say nothing about each other
            ref = _Reference(p.label, p.text, p.point, p.low, p.high, p.about,
                             (p.amount, p.share), spanned=True)
            out.append(_compare(plan, q, ref, year))
            compared.update((i, j))
        for k, pair in enumerate(pairs):
            covered = (pair.amount.indicator, pair.share.indicator) in COVERED_PAIRS
            if k in compared or covered or not pair.informative:
                continue
            out.append(Finding(
                "implied_denominator", "info", f"Implied {denominator} {year}: "
                f"{num(pair.point)} (from {pair.amount.indicator} and its share)", pair.text,
                _finite({"amount": pair.amount.canonical_value,
                         "share": pair.share.canonical_value}, implied=pair.point,
                        implied_low=pair.low, implied_high=pair.high),
                _sources(plan, [pair.amount, pair.share]), (pair.amount.id, pair.share.id),
                denominator, year))
    return out


def _statistic_reference(statistics, denominator: str, year: int) -> _Reference | None:
    measure = DENOMINATOR_STATISTIC.get(denominator)
    if statistics is None or measure is None:
        return None
    found = statistics.find(measure, year=year, period="year")
    if not found:
        return None
    st = found[0]
    low, high = _interval(st.value, st.qualifier)
    mark = {"less_than": "<"}.get(st.qualifier, QUALIFIER_MARK.get(st.qualifier, ""))
    return _Reference(f"published statistic {st.id}", mark + num(st.value), st.value, low, high,
                      st.qualifier == "about",
                      sources=(f"statistic: {st.source} ({st.published})",),
                      ids=(f"statistic:{st.id}",))


def _compare(plan: Plan, pair: _Implied, ref: _Reference, year: int) -> Finding:
    """One implied denominator against a reference value of it; when one of the pair is a floor,
    also what the reference implies for the other one."""
    amount, share, den = pair.amount, pair.share, pair.denominator
    ref_text = ref.text
    if not ref.spanned and not (_r(ref.low) == _r(ref.point) == _r(ref.high)):
        ref_text += f" ({_span(ref.low, ref.high)})"
    numbers = _finite({"amount": amount.canonical_value, "share": share.canonical_value},
                      reference=ref.point)
    consistent = _overlap((pair.low, pair.high), (ref.low, ref.high))
    if pair.informative:
        _finite(numbers, implied=pair.point, implied_low=pair.low, implied_high=pair.high)
        arithmetic = f"{den} implied: {pair.text}; {ref.what}: {ref_text}"
        if consistent:
            if max(pair.high, ref.high) == math.inf:
                verdict = "consistent"
            elif pair.about or ref.about:
                verdict = "consistent within rounding and the 'about' margin"
            else:
                verdict = "consistent within rounding"
            arithmetic += f": {verdict}"
        else:
            diff = pair.point - ref.point
            rel = 100 * diff / ref.point if ref.point else 0.0
            verdict = f"inconsistent ({num(rel)}%)"
            arithmetic += (f": the two do not overlap even with rounding and qualifiers "
                           f"(diff {num(diff)}, {num(rel)}%)")
            numbers.update(diff=_r(diff), diff_pct=_r(rel))
    else:
        verdict = ""
        arithmetic = (f"{shown(amount)} and {shown(share)}% of {den} are both floors and bound "
                      f"neither side of {den}; {ref.what}: {ref_text}")
    implied_amount = implied_share = None
    if pair.floors and ref.point > 0:
        implied_amount = share.canonical_value * ref.point / 100
        implied_share = amount.canonical_value / ref.point * 100
        word_a = "above" if share.qualifier in FLOORS else "about"
        word_s = "above" if amount.qualifier in FLOORS else "about"
        arithmetic += (f"; with {den} = {num(ref.point)}: {shown(share)}% x {num(ref.point)} / 100 "
                       f"= {num(implied_amount)}, so {amount.indicator} is {word_a} "
                       f"{num(implied_amount)} (stated {with_unit(amount)}); {shown(amount)} / "
                       f"{num(ref.point)} x 100 = {num(implied_share)}%, so the share is {word_s} "
                       f"{num(implied_share)}% (stated {shown(share)}%)")
        numbers.update(implied_amount=_r(implied_amount), implied_share=_r(implied_share))
    if verdict:
        title = f"{pair.label} vs {ref.what}: {verdict}"
    else:
        title = f"{amount.indicator} {year} from its share and {ref.what} ({num(ref.point)})"
    if implied_amount is not None and share.qualifier in FLOORS \
            and implied_amount > bounds(amount)[0]:
        title += f": {amount.indicator} above {num(implied_amount)}, not just {shown(amount)}"
    elif implied_share is not None and amount.qualifier in FLOORS \
            and implied_share > bounds(share)[0]:
        title += f": the share is above {num(implied_share)}%, not just {shown(share)}%"
    elif not verdict and implied_amount is not None:
        title += f": nothing tighter than {shown(amount)} and {shown(share)}%"
    figures = [amount, share, *ref.figures]
    return Finding("implied_denominator", "info" if consistent else "warning", title, arithmetic,
                   numbers, _sources(plan, figures) + ref.sources,
                   tuple(f.id for f in figures) + ref.ids, den, year)


# Cluster classes against totals ----------------------------------------------------------------
#: Totals cluster size classes are compared with: (measure, whose clusters it holds). Output and
#: revenue totals are what size classes are measured in; value added is a fraction of them.
OUTPUT_TOTALS = {"sei_output": "sei_industry", "industrial_output": "industry",
                 "industrial_revenue": "industry"}
VALUE_ADDED_TOTALS = {"sei_value_added": "sei", "industrial_value_added": "industry",
                      "above_scale_industrial_value_added": "industry"}
#: The output a value added comes from, for the value added / output ratio.
OUTPUT_OF = {"sei_value_added": "sei_output", "industrial_value_added": "industrial_output",
             "above_scale_industrial_value_added": "industrial_output"}


def check_class_totals(plan: Plan) -> list[Finding]:
    """Clusters by size class need at least the sum of their class floors of activity, which the
    region's output, revenue and value-added totals of the same year must hold.

    ``cluster_count`` figures (without ``among``) give count x class floor; the classes are size
    classes (千亿级, 五百亿级), so clusters of different classes are different clusters and their
    floors add up. Industry ``cluster_class`` figures give one floor per industry (the lowest, when
    a plan prints two classes for one industry); only the industries a total covers count: SEI
    totals hold SEI industries, output totals hold industry, not services.
    """
    industries = {i.id: i for i in plan.industries}
    services = any(i.sector == "services" for i in plan.industries)
    out = []
    for year in sorted({f.year for f in plan.figures
                        if f.indicator in ("cluster_count", "cluster_class")}):
        counts = [precise(fs) for fs in _grouped(
            f for f in plan.find("cluster_count", year=year) if f.among is None).values()]
        classes: dict[str, list[Figure]] = defaultdict(list)
        for f in plan.find("cluster_class", scope=None, year=year):
            if f.scope_kind == "industry":
                classes[f.scope_id].append(f)
        totals = [(ind, _region_figure(plan, ind, year)) for ind in
                  list(OUTPUT_TOTALS) + list(VALUE_ADDED_TOTALS)]
        totals = [(ind, t) for ind, t in totals if t is not None]
        outputs = [t for ind, t in totals if ind in OUTPUT_TOTALS]
        for indicator, total in totals:
            family = OUTPUT_TOTALS.get(indicator) or VALUE_ADDED_TOTALS[indicator]
            if counts:
                floor = sum(bounds(c)[0] * c.threshold for c in counts)
                terms = " + ".join(f"{shown(c)} x {num(c.threshold)}" for c in counts)
                note = ""
                if services and family != "sei":
                    note = ("some of these clusters may be services, which this total leaves out, "
                            "so the mismatch may be smaller")
                out.append(_class_finding(plan, year, "counts", counts, terms, floor, total,
                                          outputs, note))
            members = []
            for industry_id, figs in classes.items():
                industry = industries.get(industry_id)
                sei = industry is None or industry.sei
                industrial = industry is None or industry.sector == "industry"
                if ((family == "sei" and sei) or (family == "industry" and industrial)
                        or (family == "sei_industry" and sei and industrial)):
                    members.append(min(figs, key=lambda f: f.canonical_value))
            if members:
                floor = sum(bounds(f)[0] for f in members)
                terms = " + ".join(f"{num(f.canonical_value)} ({f.scope_id})" for f in members)
                note = ""
                if any(len(classes[f.scope_id]) > 1 for f in members):
                    note = "an industry given two classes counts with the lower one"
                out.append(_class_finding(plan, year, "classes", members, terms, floor, total,
                                          outputs, note))
    return out


def _class_finding(plan: Plan, year: int, basis: str, clusters: list[Figure], terms: str,
                   floor: float, total: Figure, outputs: list[Figure], note: str) -> Finding:
    indicator = total.indicator
    high = bounds(total)[1]
    fits = floor <= high * (1 + 1e-9)
    what = "cluster counts x class floors" if basis == "counts" else "industry cluster classes"
    arithmetic = f"{what}: {terms} = {num(floor)} 亿元 at least, vs {indicator} {with_unit(total)}"
    numbers = _finite({"floor_sum": floor, "total": total.canonical_value},
                      total_high=high)
    if fits:
        severity = "info"
        if high == math.inf:
            verdict = "fit (the total is a floor)"
            arithmetic += ": the total is a floor and can hold them"
        else:
            verdict = f"fit, {num(total.canonical_value - floor)} left"
            arithmetic += f"; {num(total.canonical_value)} - {num(floor)} = " \
                          f"{num(total.canonical_value - floor)} left for everything else"
            numbers["left"] = _r(total.canonical_value - floor)
    elif indicator in OUTPUT_TOTALS:
        severity = "warning" if note.startswith("some of these") else "error"
        verdict = "the class floors exceed the total"
        arithmetic += (f": {num(floor)} > {num(total.canonical_value)}, so the clusters cannot "
                       f"all be of the stated classes (diff {num(floor - total.canonical_value)})")
        numbers["diff"] = _r(floor - total.canonical_value)
    else:
        ratio = 100 * total.canonical_value / floor
        numbers["max_value_added_ratio_pct"] = _r(ratio)
        verdict = "value added below the class floors"
        arithmetic += (f": {num(floor)} > {num(total.canonical_value)}. Size classes are usually "
                       f"measured in revenue or output, of which value added is a fraction: the "
                       f"clusters cannot fit if their classes are in value added, and otherwise "
                       f"need value added to be at most {num(total.canonical_value)} / "
                       f"{num(floor)} = {num(ratio)}% of their output")
        holding = [o for o in outputs if floor <= bounds(o)[1] * (1 + 1e-9)]
        ratio_of = _value_added_ratio(plan, indicator)
        if ratio_of is not None:
            (va, output), plan_ratio = ratio_of
            arithmetic += (f" (the plan's own {va.year}: {shown(va)} / {shown(output)} = "
                           f"{num(plan_ratio)}%)")
            numbers["plan_value_added_ratio_pct"] = _r(plan_ratio)
        if holding:
            severity = "info"
            verdict += ", as expected: an output total holds them"
            arithmetic += "; " + ", ".join(f"{o.indicator} {with_unit(o)}" for o in holding) + \
                " of the same year holds them"
        else:
            severity = "warning"
            verdict += ": the classes cannot fit"
    if note:
        arithmetic += f" ({note})"
    figures = [*clusters, total]
    return Finding("class_total", severity,
                   f"Cluster classes {year} ({basis}) vs {_label(total)} {with_unit(total)}: "
                   f"{verdict}", arithmetic, numbers, _sources(plan, figures),
                   tuple(f.id for f in figures), indicator, year)


def _value_added_ratio(plan: Plan, value_added: str):
    """((value added, output), ratio %) of the latest year the plan gives both, or None."""
    output_ind = OUTPUT_OF[value_added]
    for year in sorted({f.year for f in plan.find(value_added)}, reverse=True):
        va, output = _region_figure(plan, value_added, year), _region_figure(plan, output_ind, year)
        if va is not None and output is not None and output.canonical_value > 0:
            return (va, output), 100 * va.canonical_value / output.canonical_value
    return None


# Stages of multi-year targets ------------------------------------------------------------------
#: A stage needing more than this multiple of the previous stage's pace is a warning.
STAGE_ACCELERATION = 1.5


def check_stage_pace(plan: Plan) -> list[Finding]:
    """Indicators with targets in two or more years: the pace of each stage, from the latest
    baseline to the first target and from each target to the next (CAGR for levels, percentage
    points per year for shares), and a warning where a stage speeds up more than 1.5 times."""
    series: dict[tuple, list[Figure]] = defaultdict(list)
    for f in plan.figures:
        if f.indicator in LEVELS | SHARE_INDICATORS:
            series[(f.indicator, f.scope, f.threshold, f.among)].append(f)
    out = []
    for (indicator, _scope, _threshold, _among), figs in series.items():
        target_years = sorted({f.year for f in figs if f.role == "target"})
        if len(target_years) < 2:
            continue
        points = []
        before = [f for f in figs if f.role == "baseline" and f.year < target_years[0]]
        if before:
            latest = max(f.year for f in before)
            points.append(precise([f for f in before if f.year == latest]))
        points += [precise([f for f in figs if f.role == "target" and f.year == y])
                   for y in target_years]
        share = indicator in SHARE_INDICATORS
        unit = "pp/yr" if share else "%/yr"
        stages: list[tuple[Figure, Figure, float | None]] = []
        texts = []
        for a, b in zip(points, points[1:]):
            n = b.year - a.year
            if share:
                pace = (b.canonical_value - a.canonical_value) / n
                texts.append(f"{a.year}->{b.year}: ({shown(b)} - {shown(a)}) / {n} = "
                             f"{num(pace)} pp/yr")
            elif a.canonical_value > 0:
                pace = 100 * ((b.canonical_value / a.canonical_value) ** (1 / n) - 1)
                texts.append(f"{a.year}->{b.year}: ({shown(b)} / {shown(a)})^(1/{n}) - 1 = "
                             f"{num(pace)}%/yr")
            else:
                pace = None
                texts.append(f"{a.year}->{b.year}: no growth rate from {shown(a)}")
            stages.append((a, b, pace))
        label = _label(points[-1])
        arithmetic = "; ".join(texts)
        if any(p.qualifier in FLOORS for p in points):
            arithmetic += (" (figures marked >, >= or class are floors: the paces are those of "
                           "the floors)")
        numbers = {f"pace_{a.year}_{b.year}": _r(p) for a, b, p in stages if p is not None}
        summary = ", ".join(f"{a.year}->{b.year} {num(p)}{unit}" for a, b, p in stages
                            if p is not None)
        start = "from baseline " if before else ""
        out.append(Finding("stage_pace", "info", f"Stages of {label} {start}{summary}",
                           arithmetic, numbers, _sources(plan, points),
                           tuple(p.id for p in points), indicator, target_years[-1]))
        for (a0, b0, p0), (a1, b1, p1) in zip(stages, stages[1:]):
            if p0 is None or p1 is None:
                continue
            if not (p1 > STAGE_ACCELERATION * p0 if p0 > 0 else p1 > 0):
                continue
            times = f", {num(p1 / p0)} times" if p0 > 0 else ""
            used = [a0, b0, b1]
            out.append(Finding(
                "stage_pace", "warning",
                f"{label}: stage {a1.year}->{b1.year} needs {num(p1)}{unit}{times} the "
                f"{num(p0)}{unit} of stage {a0.year}->{b0.year}",
                f"{a0.year}->{b0.year}: {num(p0)}{unit}; {a1.year}->{b1.year}: {num(p1)}{unit}"
                + (f"; {num(p1)} / {num(p0)} = {num(p1 / p0)} > {num(STAGE_ACCELERATION)}"
                   if p0 > 0 else f"; after a stage of {num(p0)}{unit}"),
                _finite({"earlier_pace": p0, "later_pace": p1},
                        ratio=p1 / p0 if p0 > 0 else math.inf),
                _sources(plan, used), tuple(f.id for f in used), indicator, b1.year))
    return out


# Coverage --------------------------------------------------------------------------------------
def check_coverage(plan: Plan) -> list[Finding]:
    """What the plan lets the audit and the model do: targets that are missing, undated,
    unquantified or on indicators the model does not simulate, and figures that do not come from
    the plan (assumptions, published statistics)."""
    out = []
    every = list(plan.figures) + list(plan.unquantified)
    targets = plan.all_targets
    if find_sizing(plan) is None:
        out.append(Finding(
            "coverage", "warning", "No base year can be sized: the plan cannot be simulated",
            sizing_problem(plan)))
    if not targets:
        out.append(Finding(
            "coverage", "warning", "No targets: nothing to score",
            f"the plan's {len(every)} figures are all baselines; a simulation can be run but not "
            "scored, and the audit can only check the baselines against each other"))
    elif not plan.targets:
        out.append(Finding(
            "coverage", "warning", "No target can be scored",
            f"all {len(targets)} targets are undated or unquantified (listed below)",
            {"targets": len(targets)}, _sources(plan, targets), tuple(f.id for f in targets)))
    for f in plan.unquantified:
        if f.role != "target":
            continue
        reasons, kinds = [], []
        if f.year is None:
            kinds.append("undated")
            reasons.append("it has no year (a target is scored in its year)")
        if f.value is None:
            kinds.append("unquantified")
            reasons.append("it has no number (一批, 若干) to compare a simulation with")
        unscored = f.unscored
        if unscored:
            kinds.append("marked unscored")
            reasons.append(unscored)
        year = f.year if f.year is not None else "(no year)"
        out.append(Finding(
            "coverage", "info", f"Target {f.id} not scored: {', '.join(kinds)}",
            f"{_label(f)} {year} = {with_unit(f)}: not scored: " + "; ".join(reasons),
            {} if f.value is None else {"value": f.canonical_value}, _sources(plan, [f]),
            (f.id,), f.indicator, f.year))
    unsimulated = [f for f in plan.targets if INDICATORS[f.indicator].column is None
                   and not INDICATORS[f.indicator].by_unit and INDICATORS[f.indicator].reason]
    if unsimulated:
        are = "is on an indicator" if len(unsimulated) == 1 else "are on indicators"
        out.append(Finding(
            "coverage", "info", f"{len(unsimulated)} of {len(plan.targets)} dated targets {are} "
            "the model does not simulate",
            "; ".join(f"{f.id}: {INDICATORS[f.indicator].reason}" for f in unsimulated),
            {"targets": len(plan.targets), "not_simulated": len(unsimulated)},
            _sources(plan, unsimulated), tuple(f.id for f in unsimulated)))
    for f in every:
        if f.assumption is not None:
            title = "rests on an assumption"
            arithmetic = f"not in the plan: assumed by {f.assumption.by} because {f.assumption.why}"
            if "prior-driven" not in f.assumption.why:
                arithmetic += "; results that use it are prior-driven"
        elif f.statistic is not None:
            title = "is a published statistic"
            arithmetic = (f"not printed in the plan: taken from {f.statistic.publication} "
                          f"(published {f.statistic.published})")
        else:
            continue
        year = f.year if f.year is not None else "(no year)"
        out.append(Finding(
            "coverage", "info", f"Figure {f.id} {title}: {_label(f)} {year} = {with_unit(f)}",
            arithmetic, {} if f.value is None else {"value": f.canonical_value},
            _sources(plan, [f]), (f.id,), f.indicator, f.year))
    return out
