"""The plan audit: is a plan consistent with itself and with its other published versions?

Economists judging a plan first ask whether its own numbers hold together, and only then whether
it can be reached. The audit answers with findings that show their arithmetic and cite the plan's
sections, so a reader can redo each one by hand. It reads only the plan's figures; it simulates
nothing.

Six kinds of check (``Finding.check``):

``sum``
    industry or park lines against the region total of the same indicator and year.
``implied_total``
    what a level and its share imply for the denominator: above-scale industrial output from SEI
    output and its share, GDP from SEI value added and its share, the non-SEI rest, and their
    growth.
``required_cagr``
    the yearly growth a target needs from its latest baseline, against the growth the plan reports
    for earlier years (percentage points per year for shares).
``version_difference``
    figures and items that differ between published versions of the same plan.
``definition``
    totals that mix measures: services output inside a share of *industrial* output, value added
    that is not below the output it comes from.
``consistency``
    the same figure printed twice in one version with different values.

Rates and shares in ``Finding.numbers`` are in percent; amounts in the indicator's canonical unit.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field

from sim.errors import InputError
from sim.plans.schema import INDICATORS, SHARE_INDICATORS, UNIT_FACTORS, Figure, Plan

CHECKS = {
    "sum": "Sub-targets vs totals",
    "implied_total": "Implied totals (output/share pairs)",
    "required_cagr": "Required growth vs history",
    "version_difference": "Differences between plan versions",
    "definition": "Definitional problems",
    "consistency": "Figures printed twice with different values",
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

QUALIFIER_MARK = {"exact": "", "about": "~", "more_than": ">", "at_least": ">=", "class": "class "}


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
    findings = (check_sums(plan) + check_implied_totals(plan) + check_required_growth(plan)
                + [f for other in others for f in check_versions(plan, other)]
                + check_definitions(plan) + check_consistency(plan))
    return AuditReport(region=plan.region, version=plan.version, title=plan.title,
                       document=plan.document, compared_with=tuple(o.version for o in others),
                       findings=findings)


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
    """A figure's canonical value with its qualifier (>130 for 'more than 130')."""
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
    """'>130 亿元', '~13%'."""
    unit = f.canonical_unit
    return shown(f) + (unit if unit == "%" else f" {unit}")


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
            if level is None or share is None or share.canonical_value <= 0:
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
    when that identifies a single figure on each side.
    """
    mine, theirs = {f.id: f for f in plan.figures}, {f.id: f for f in other.figures}
    pairs = [(mine[i], theirs[i]) for i in mine if i in theirs]
    left = [f for f in plan.figures if f.id not in theirs]
    right = [f for f in other.figures if f.id not in mine]
    lk, rk = _grouped(left), _grouped(right)
    for key in list(lk):
        if len(lk[key]) == 1 and len(rk.get(key, [])) == 1:
            pairs.append((lk[key][0], rk[key][0]))
            left.remove(lk[key][0])
            right.remove(rk[key][0])

    out = []
    versions = f"{plan.version} vs {other.version}"
    for a, b in pairs:
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
                       {"value": item.canonical_value} if kind == "figure" else {},
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
        if total is None or share is None or not lines:
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
            listed = " vs ".join(f"{shown(f)} ({f.id}, {f.source[plan.version]})" for f in same)
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
