"""Writing the results of ``seisim sensitivity``, ``discover`` and ``solve`` into their output
directory: tables as CSV (opened correctly by Excel), charts as PNG and a ``report.md`` that links
them, with the analysis' warnings when it is too small to trust. The command line only prints."""

from __future__ import annotations

from pathlib import Path

from sim.csvfiles import CSV_ENCODING


def _write_md(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _warning_lines(result) -> list[str]:
    return [f"**Warning:** {w}" for w in result.warnings] + ([""] if result.warnings else [])


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_sensitivity_report(res, scenario, out: Path, replications: int) -> Path:
    """indices.csv, points.csv, indices.png and report.md of a sensitivity analysis."""
    from sim.analysis.sensitivity import plot_indices

    idx = res["indices"]
    idx.to_csv(out / "indices.csv", index=False, encoding=CSV_ENCODING)
    res["points"].to_csv(out / "points.csv", index_label="point", encoding=CSV_ENCODING)
    _save(plot_indices(idx, res["method"]), out / "indices.png")
    spec = res["spec"]
    constant = idx.attrs.get("constant_outcomes", [])
    return _write_md(out / "report.md", [
        f"# Sensitivity ({res['method']}): {scenario.name}", "",
        f"Target: `{spec.id}` ({spec.year}, threshold {spec.threshold:g} {spec.unit}); "
        f"{len(res['points'])} design points x {replications} replications on common random "
        "numbers.", "",
        "Outcomes: `value` = mean simulated value in the target year; `p_met` = share of "
        "replications meeting the target.", "",
        *(["Constant outcome(s) (indices meaningless): " + ", ".join(constant), ""]
          if constant else []),
        *_warning_lines(res),
        "Tables: [indices.csv](indices.csv), [points.csv](points.csv)", "",
        "![indices](indices.png)"])


def write_discovery_report(res, scenario, out: Path) -> Path:
    """trajectory.csv, box.csv, cases.csv, the trade-off and box charts and report.md of a PRIM
    scenario discovery."""
    from sim.analysis.discovery import plot_box, plot_tradeoff

    traj, step, box = res["trajectory"], res["step"], res["restrictions"]
    traj.to_csv(out / "trajectory.csv", index_label="step", encoding=CSV_ENCODING)
    box.to_csv(out / "box.csv", index=False, encoding=CSV_ENCODING)
    res["cases"].to_csv(out / "cases.csv", index_label="point", encoding=CSV_ENCODING)
    charts = step is not None
    if charts:
        _save(plot_tradeoff(traj, step), out / "tradeoff.png")
        _save(plot_box(box), out / "box.png")
    return _write_md(out / "report.md", [
        f"# Scenario discovery (PRIM): {scenario.name}", "",
        f"Cases where `{res['spec'].id}` is **{res['mode']}**: {res['share_of_interest']:.1%} of "
        f"{len(res['cases'])} Latin-hypercube samples (one independent replication each).", "",
        res["message"] + ".", "", *_warning_lines(res),
        "| factor | box low | box high | sampled range |", "|---|---|---|---|",
        *[f"| {r.factor} | {r.box_low:.4g} | {r.box_high:.4g} | {r.range_low:.4g}-"
          f"{r.range_high:.4g} |" for r in box.itertuples()], "",
        "Tables: [trajectory.csv](trajectory.csv), [box.csv](box.csv), [cases.csv](cases.csv)",
        *(["", "![trade-off](tradeoff.png)", "", "![box](box.png)"] if charts else [])])


def fund_answer_line(res, scenario) -> str:
    """For a fund-scale answer, the yearly fund investment it means, beside the baseline's."""
    if res.lever != "levers.fund.scale" or res.value is None:
        return ""
    base = scenario.model_inputs().fund_inflow.sum()
    return (f"fund investment at the answer: {res.value * base:.3g} 亿元/yr "
            f"(baseline {base:.3g} 亿元/yr)")


def write_solve_report(res, scenario, out: Path, bounds: tuple[float, float], prob: float,
                       seconds: float) -> Path:
    """curve.csv, curve.png and report.md of a required-lever search."""
    from sim.analysis.solve import plot_curve

    res.curve.to_csv(out / "curve.csv", index=False, encoding=CSV_ENCODING)
    _save(plot_curve(res), out / "curve.png")
    extra = fund_answer_line(res, scenario)
    return _write_md(out / "report.md", [
        f"# Required lever: {scenario.name}", "",
        f"Question: smallest `{res.lever}` in [{bounds[0]:g}, {bounds[1]:g}] with "
        f"P(`{res.target}` met) >= {prob:.0%}.", "", f"**Answer:** {res.message}", "",
        *([extra, ""] if extra else []),
        f"{res.extra['evaluations']} lever values, {res.extra['replications']} replications each "
        f"on common random numbers; run time {seconds:.0f} s.", "",
        "Table: [curve.csv](curve.csv)", "", "![P(met) against the lever](curve.png)"])
