"""Writing a calibration's fitted parameter set and its report."""

from __future__ import annotations

from pathlib import Path

import yaml

from sim.calibration import CalibrationResult


def write_parameter_set(pset: dict, sets_dir: Path, what: str, command: str) -> Path:
    """Write ``<sets_dir>/<name>.yaml`` with a header saying what it is and which command wrote
    it; written under a temporary name and renamed, so a reader never sees half a set."""
    sets_dir.mkdir(parents=True, exist_ok=True)
    path = sets_dir / f"{pset['name']}.yaml"
    tmp = path.with_suffix(".yaml.partial")
    header = f"# {what}\n# Written by `{command}`; do not edit by hand.\n"
    tmp.write_text(header + yaml.safe_dump(pset, allow_unicode=True, sort_keys=False),
                   encoding="utf-8")
    tmp.replace(path)
    return path


def write_calibration(result: CalibrationResult, sets_dir: Path, reports_dir: Path) -> tuple[Path, Path]:
    """Write ``<sets_dir>/<region>-<version>.yaml`` and ``<reports_dir>/<name>/report.md``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pset = result.parameter_set()
    set_path = write_parameter_set(
        pset, sets_dir,
        f"Fitted parameter set for {pset['region']} plan version {pset['version']}.",
        f"seisim calibrate {result.problem.source}")

    out = reports_dir / pset["name"]
    out.mkdir(parents=True, exist_ok=True)
    n = len(result.names)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3), squeeze=False)
    for ax, name in zip(axes[0], result.names):
        grid, values = zip(*result.profiles[name])
        ax.plot(grid, values, marker="o")
        ax.axvline(result.theta[result.names.index(name)], color="C3", ls="--")
        ax.set_yscale("symlog")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("value (others at estimate)", fontsize=8)
    axes[0][0].set_ylabel("objective")
    fig.tight_layout()
    fig.savefig(out / "profiles.png", dpi=110)
    plt.close(fig)

    rows = result.moment_table()
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(rows) + 1.5))
    for k, r in enumerate(rows):
        ax.plot([r["q05"] / r["data"], r["q95"] / r["data"]], [k, k], color="C0", lw=3)
        ax.plot(r["simulated_mean"] / r["data"], k, "o", color="C0")
    ax.axvline(1.0, color="C3", ls="--")
    ax.set_yticks(range(len(rows)), [f"{r['moment']} ({r['year']})" for r in rows], fontsize=8)
    ax.set_xlabel("simulated / plan figure (dot: mean, bar: 5-95%)")
    fig.tight_layout()
    fig.savefig(out / "moments.png", dpi=110)
    plt.close(fig)

    est = pset["estimates"]
    lines = [f"# Calibration report: {pset['name']}", "",
             f"- spec: `{result.problem.source}`; method: {pset['method']}",
             f"- replications per evaluation: {result.problem.spec.replications} (common random "
             f"numbers, seed {result.problem.spec.seed}); objective at the estimate "
             f"{result.objective:.4g} after {result.evaluations} evaluations",
             f"- bootstrap refits: {len(result.draws)}; run time {result.seconds:.0f} s; "
             f"seisim {pset['code_version']}, {pset['date']}", "",
             f"- data through {result.data_through}: {len(result.problem.moments)} moments for "
             f"{len(result.names)} free parameters", "",
             "## Parameters", "",
             "| parameter | estimate | 5% | 95% | s.d. | s.d. / prior s.d. | bounds | prior | "
             "label |", "|---|---|---|---|---|---|---|---|---|"]
    for name, f in zip(result.names, result.problem.free):
        e = est[name]
        prior = (f"N({f.prior_mean:g}, {f.prior_sd:g})" if f.prior_mean is not None else
                 "uniform on bounds")
        label = "**prior-driven**" if e.get("prior_driven") else "data-driven"
        lines.append(f"| {name} | {e['value']:.4g} | {e.get('q05', float('nan')):.4g} | "
                     f"{e.get('q95', float('nan')):.4g} | {e.get('sd', float('nan')):.3g} | "
                     f"{e.get('posterior_to_prior_sd', float('nan')):.2f} | "
                     f"[{f.low:g}, {f.high:g}] | {prior} | {label} |")
    lines += ["", "A parameter is labelled prior-driven when its posterior (bootstrap) spread "
              "exceeds 0.7 of its prior spread: the data say little about it and results that "
              "depend on it rest on the prior.", "",
              "Identifiability: a parameter is pinned down by the data when its bootstrap "
              "interval is narrow relative to its bounds and its profile (below) has a clear "
              "minimum.", "", "![profiles](profiles.png)", "",
              "## Moments", "", "| moment | year | data | simulated mean | error | 5%-95% | "
              "source |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['moment']} ({r['column']}) | {r['year']} | {r['data']:,.4g} | "
                     f"{r['simulated_mean']:,.4g} | {100 * r['relative_error']:+.2f}% | "
                     f"{r['q05']:,.4g}-{r['q95']:,.4g} | {r['source']} |")
    lines += ["", "![moments](moments.png)", "", "## Leave-one-out check", "",
              "Each moment is dropped in turn, the parameters refitted to the others starting "
              "from the priors, and the dropped moment predicted.", "",
              "| dropped moment | data | predicted | error | refitted parameters |",
              "|---|---|---|---|---|"]
    for r in result.leave_one_out:
        refit = ", ".join(f"{k}={v:.4g}" for k, v in r["refit"].items())
        lines.append(f"| {r['moment']} | {r['data']:,.4g} | {r['predicted']:,.4g} | "
                     f"{100 * r['relative_error']:+.1f}% | {refit} |")
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return set_path, out / "report.md"
