"""Text and charts of a comparison of scenarios run on common random numbers.

The methods of :class:`~sim.reporting.results.ComparisonResult` call these; they live here so that
module stays a thin view of the run directory.
"""

from __future__ import annotations


def _pct(x: float) -> str:
    return f"{x:6.1%}"


def comparison_summary(comparison, reference: str | None = None) -> str:
    """One block per evaluable target: P(met) [95% interval] of each scenario and its paired
    difference from ``reference`` (default: the first scenario)."""
    reference = reference or comparison.labels[0]
    if reference not in comparison.results:
        from sim.errors import InputError

        raise InputError(f"no scenario labelled '{reference}' (labels: "
                         f"{', '.join(comparison.labels)})")
    first = comparison.results[reference]
    targets = comparison.targets()
    diffs = comparison.differences(reference)
    by_diff = ({(r.scenario, r.target): r for r in diffs.itertuples()} if len(diffs) else {})
    width = max(len(label) for label in comparison.labels)
    lines = [f"{len(comparison.labels)} scenarios on common random numbers: "
             f"{first.replications} replications, seed {first.settings['seed']}; differences "
             f"paired by replication, vs {reference}"]
    evaluable = targets[targets["p_met"].notna()]
    for target, block in evaluable.groupby("target", sort=False):
        r0 = block.iloc[0]
        lines.append(f"  {target} ({int(r0.year)}): threshold {r0.threshold:,.4g} {r0.unit}")
        for r in block.itertuples():
            row = (f"    {r.scenario:<{width}}  P(met) {_pct(r.p_met)} "
                   f"[{_pct(r.ci_low)}, {_pct(r.ci_high)}]")
            if r.scenario == reference:
                row += "  (reference)"
            elif (r.scenario, target) in by_diff:
                d = by_diff[(r.scenario, target)]
                row += (f"  {100 * d.p_met_diff:+5.1f} pp [{100 * d.p_met_diff_low:+.1f}, "
                        f"{100 * d.p_met_diff_high:+.1f}]")
            lines.append(row)
    not_evaluated = targets.loc[targets["p_met"].isna(), "target"].unique()
    if len(not_evaluated):
        lines.append(f"  not evaluated: {', '.join(not_evaluated)}")
    return "\n".join(lines)


def plot_comparison_fans(comparison, column: str):
    """Overlaid fan charts of ``column``, one colour per scenario, with its targets marked."""
    from sim.reporting.plots import overlaid_fan_chart

    quantiles = {label: r.quantiles(column) for label, r in comparison.results.items()}
    marks = {}
    for r in comparison.results.values():
        for s in r.specs:
            if s.column == column and s.evaluable and s.year is not None:
                marks.setdefault((s.year, s.threshold), s.id)
    units = [s.unit for r in comparison.results.values() for s in r.specs if s.column == column]
    # Axis labels in ASCII: the default fonts have no CJK glyphs.
    ylabel = {"亿元": "100 million yuan (yi yuan)"}.get(units[0], units[0]) if units else column
    return overlaid_fan_chart(quantiles, targets=[(y, t, i) for (y, t), i in marks.items()],
                              title=column.replace("_", " "), ylabel=ylabel)

