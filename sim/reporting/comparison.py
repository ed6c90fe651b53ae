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


def target_names(comparison) -> dict[str, str]:
    """Target id -> the plan's own name and year (English), from the first scenario's plan."""
    from sim.reporting.present import present_targets

    first = comparison.results[comparison.labels[0]]
    plan = first.scenario.plan if first.scenario is not None else None
    shown = present_targets(first.targets(), plan, "en")
    return dict(zip(shown["target"], shown["name"] + " " + shown["year_text"]))


def plot_comparison_fans(comparison, column: str):
    """Overlaid fan charts of ``column``, one colour per scenario, with its targets marked."""
    from sim.reporting.plots import overlaid_fan_chart
    from sim.reporting.present import indicator_label

    quantiles = {label: r.quantiles(column) for label, r in comparison.results.items()}
    names = target_names(comparison)
    marks, what = {}, None
    for r in comparison.results.values():
        for s in r.specs:
            if s.column == column and s.evaluable and s.year is not None:
                marks.setdefault((s.year, s.threshold), names.get(s.id, s.id))
                if s.scope == "region":
                    what = what or indicator_label(s.indicator, "en")
    units = [s.unit for r in comparison.results.values() for s in r.specs if s.column == column]
    ylabel = {"亿元": "亿元 (100 million yuan)"}.get(units[0], units[0]) if units else column
    return overlaid_fan_chart(quantiles, targets=[(y, t, i) for (y, t), i in marks.items()],
                              title=what or column.replace("_", " "), ylabel=ylabel)


def plot_comparison_probabilities(comparison, targets: list[str] | None = None):
    """P(met) of each target (or of the listed ``targets``), one bar per scenario side by side,
    with 95% intervals, targets named as the plan names them."""
    from sim.errors import InputError
    from sim.reporting.plots import grouped_probability_chart

    table = comparison.targets()
    if targets is not None:
        unknown = sorted(set(targets) - set(table["target"]))
        if unknown:
            raise InputError(f"unknown target(s) {', '.join(unknown)} (targets: "
                             f"{', '.join(dict.fromkeys(table['target']))})")
        table = table[table["target"].isin(targets)]
    return grouped_probability_chart(table, labels=target_names(comparison),
                                     title="P(target met) by scenario, 95% interval")
