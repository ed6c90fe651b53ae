"""The ``seisim`` command line.

Analysts drive the library from a terminal as much as from notebooks, so every subcommand prints
plain text (or JSON when asked) and every problem in their input is one line,
``seisim: error: <file>:<line>: <key>: <problem>``, with exit code 2 and no traceback.

Subcommands are registered in :data:`COMMANDS`: each entry is a function that adds one top-level
subcommand to the parser and sets ``func`` (called with the parsed arguments, returning the exit
code). To add ``run``, ``mc`` and so on, write an ``add_<name>_command`` function and list it there.
"""

from __future__ import annotations

import argparse
import os
import sys
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

from sim._version import __version__
from sim.errors import InputError
from sim.csvfiles import CSV_ENCODING


# Output helpers ----------------------------------------------------------------------------------
def _width(text: str) -> int:
    """Terminal columns of a string: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain aligned text table; pandas mis-aligns Chinese text, so this counts display width."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths)).rstrip()

    rule = line(["-" * w for w in widths])
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


# seisim plan ... ---------------------------------------------------------------------------------
def cmd_plan_list(args: argparse.Namespace) -> int:
    from sim.plans.loader import available_regions, display_path, read_plan_file, resolve_region

    rows, problems = [], []
    for region in available_regions():
        try:
            path = resolve_region(region)
            plan_file = read_plan_file(path)
        except InputError as exc:  # list the good files even when one is broken
            problems.append(str(exc))
            continue
        for version, meta in plan_file.versions.items():
            rows.append([region, version, "*" if version == plan_file.default else "",
                         plan_file.name_en, meta.title, display_path(path)])
    print(table(["region", "version", "default", "name", "title", "file"], rows))
    for problem in problems:
        _print_error(problem)
    return 2 if problems else 0


def _figure_value(f) -> str:
    from sim.plans.audit import num

    return f"{num(f.value[0], 4)}-{num(f.value[1], 4)}" if f.is_range else num(f.value, 4)


def cmd_plan_show(args: argparse.Namespace) -> int:
    import sim.plans
    from sim.plans.audit import num

    plan = sim.plans.load(args.region, args.version)

    def section(item) -> str:
        if item.source is not None:
            return item.source[plan.version]
        return (f"statistic: {item.statistic.publication}" if item.statistic is not None else
                f"assumption by {item.assumption.by}")

    out = [f"{plan.region}: {plan.name} ({plan.name_en}), version {plan.version} "
           f"(versions: {', '.join(plan.versions)})",
           f"Title: {plan.title}", f"Document: {plan.document}", f"File: {plan.file}",
           "Sources below are sections of that document.", "",
           f"Industries ({len(plan.industries)})",
           table(["id", "name", "name_en", "sector", "sei", "group", "source"],
                 [[i.id, i.name, i.name_en, i.sector, "yes" if i.sei else "no", i.group,
                   section(i)]
                  for i in plan.industries])]
    if plan.parks:
        out += ["", f"Parks ({len(plan.parks)})",
                table(["id", "name", "name_en", "industries", "source"],
                      [[p.id, p.name, p.name_en, ", ".join(p.industries), section(p)]
                       for p in plan.parks])]
    if plan.funds:
        out += ["", f"Funds ({len(plan.funds)})",
                table(["id", "name", "name_en", "source"],
                      [[f.id, f.name, f.name_en, section(f)] for f in plan.funds])]
    out += ["", f"Figures ({len(plan.figures)})",
            table(["id", "indicator", "scope", "year", "value", "unit", "threshold", "qualifier",
                   "role", "kind", "source"],
                  [[f.id, f.indicator, f.scope, f.year, _figure_value(f), f.unit,
                    None if f.threshold is None else num(f.threshold, 4), f.qualifier, f.role,
                    f.kind, section(f)] for f in plan.figures])]
    if plan.unquantified:
        out += ["", f"Listed, not computed with ({len(plan.unquantified)}: undated, unquantified "
                    "or unscored)",
                table(["id", "indicator", "scope", "year", "value", "unit", "qualifier", "why",
                       "source"],
                      [[f.id, f.indicator, f.scope, f.year or "undated",
                        "" if f.value is None else _figure_value(f), f.unit, f.qualifier,
                        f.unscored or ("undated" if f.year is None else "unquantified"),
                        section(f)] for f in plan.unquantified])]
    from sim.outcomes import statistic_column
    from sim.plans.statistics import load_statistics

    stats = load_statistics(plan.region, plan.file)
    if stats is None:
        out += ["", f"Published statistics: none (add seeds/statistics/{plan.region}.yaml, "
                    "see docs/statistics-format.md)"]
    else:
        out += ["", f"Published statistics ({len(stats)}, {stats.file})",
                table(["id", "measure", "period", "value", "unit", "qualifier", "simulated as",
                       "source", "published"],
                      [[st.id, st.measure, st.label, num(st.value, 6), st.unit, st.qualifier,
                        statistic_column(st)[0] or "not simulated", st.source, st.published]
                       for st in stats.items])]
    print("\n".join(out))
    return 0


def cmd_plan_check(args: argparse.Namespace) -> int:
    import sim.plans
    from sim.model.readiness import check_plan

    result = check_plan(sim.plans.load(args.region, args.version))
    print(result.to_text())
    return 0 if result.simulable else 1


def cmd_plan_audit(args: argparse.Namespace) -> int:
    import sim.plans

    report = sim.plans.audit(sim.plans.load(args.region, args.version))
    print(report.to_json(indent=2) if args.json else report.to_text())
    return 0


def add_plan_command(subparsers) -> None:
    plan = subparsers.add_parser("plan", help="list, show and audit regional plans",
                                 description="Regional plans: list them, show one, audit one.")
    sub = plan.add_subparsers(dest="plan_command", metavar="COMMAND", required=True)

    listing = sub.add_parser("list", help="regions and their plan versions")
    listing.set_defaults(func=cmd_plan_list)

    def region_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("region", metavar="REGION",
                       help="region name (a seeds/<region>.yaml file) or path to a plan file")
        p.add_argument("--version", metavar="V", default=None,
                       help="plan version (default: the file's default version)")

    show = sub.add_parser("show", help="industries, parks, funds and figures of a plan")
    region_args(show)
    show.set_defaults(func=cmd_plan_show)

    check = sub.add_parser("check", help="can the plan be simulated? what is missing, what it "
                                         "rests on, which targets are scored",
                           description="Exit status 0 when the plan can be simulated, 1 when "
                                       "figures are missing (listed with the forms to supply).")
    region_args(check)
    check.set_defaults(func=cmd_plan_check)

    audit = sub.add_parser("audit", help="check a plan's numbers against each other",
                           description="Sums vs totals, implied totals, required growth, "
                                       "differences between versions, definitional problems.")
    region_args(audit)
    audit.add_argument("--json", action="store_true", help="print the report as JSON")
    audit.set_defaults(func=cmd_plan_audit)


# seisim run / mc / sweep / compare / report / demo -----------------------------------------------
RUN_COLUMNS = ["year", "sei_industrial_output", "nonsei_output", "sei_output_share",
               "industrial_value_added", "sei_value_added_share_gdp", "above_scale_firms",
               "firms_over_10", "talent_shortage", "fund_invested"]


def _use_agg() -> None:
    import matplotlib

    matplotlib.use("Agg")


def add_backend_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=["serial", "processes", "dask"], default="processes",
                   help="where the work runs (default: processes)")
    p.add_argument("--workers", type=int, default=None, help="processes computing chunks, this one included (default: cores)")
    p.add_argument("--address", default=None,
                   help="Dask scheduler address, e.g. tcp://host:8786 (backend dask)")


def add_experiment_args(p: argparse.ArgumentParser, *, out: bool = True) -> None:
    p.add_argument("-n", "--replications", type=int, default=None,
                   help="replications (default: the scenario's monte_carlo.replications)")
    p.add_argument("--seed", type=int, default=None, help="experiment seed (default: scenario's)")
    p.add_argument("--engine", choices=["numba", "mesa"], default=None)
    add_backend_args(p)
    if out:
        p.add_argument("--out", default=None, help="run directory (default runs/<name>-<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run in --out, computing only missing chunks")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_brief_arg(p)


def add_brief_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--brief", choices=["zh", "en"], default=None, metavar="LANG",
                   help="also write briefing.html and briefing.xlsx in zh or en (see seisim brief)")


def _brief(args, run_dir, scenarios=None) -> None:
    """``--brief LANG``: the briefing beside report.md."""
    if getattr(args, "brief", None):
        from sim.reporting.briefing import write_briefing

        paths = write_briefing(run_dir, args.brief, scenarios)
        print(f"briefing: {paths['html']} {paths['xlsx']}")


def _experiment_options(args) -> dict:
    return {"backend": args.backend, "workers": args.workers, "address": args.address,
            "resume": args.resume, "progress": not args.no_progress, "engine": args.engine}


def _default_out(args, name: str):
    from sim.api import _run_dir

    if args.out is None and getattr(args, "resume", False):
        raise InputError("--resume needs --out DIR (the run directory to continue)")
    args.resolved_out = _run_dir(args.out, name)  # named in the resume hint after Ctrl-C
    return args.resolved_out


def cmd_run(args) -> int:
    import sim

    scenario = sim.api.as_scenario(args.scenario)
    result = sim.run(scenario, seed=args.seed, engine=args.engine)
    annual = result.annual
    if args.csv:
        annual.to_csv(args.csv, index=False, encoding=CSV_ENCODING)
    rows = [[int(r.year)] + [num_cell(getattr(r, c)) for c in RUN_COLUMNS[1:]]
            for r in annual.itertuples()]
    print(f"{scenario.name}: one run, seed {args.seed}, engine {args.engine}")
    print(table(RUN_COLUMNS, rows))
    if args.csv:
        print(f"all {annual.shape[1]} columns written to {args.csv}")
    return 0


def num_cell(x) -> str:
    return f"{x:,.4g}" if isinstance(x, float) else str(x)


def cmd_mc(args) -> int:
    import sim
    from sim.reporting.results import write_report

    _use_agg()
    scenario = sim.api.as_scenario(args.scenario)
    if args.as_of is not None:
        scenario = scenario.with_overrides({"as_of": args.as_of})
    if args.out is None and scenario.spec.outputs.dir:
        args.out = scenario.spec.outputs.dir
    out = _default_out(args, scenario.name)
    result = sim.monte_carlo(scenario, args.replications, args.seed, out=out,
                             **_experiment_options(args))
    plots = scenario.spec.outputs.plots and not args.no_plots
    report = write_report(out, {"": scenario}, plots=plots)
    print(result.summary())
    print(f"run directory: {out}\nreport: {report}")
    _brief(args, out, {"": scenario})
    return 1 if result.failures else 0


def _comparison_output(result, out, scenarios, plots: bool) -> None:
    from sim.reporting.results import write_report

    report = write_report(out, scenarios, plots=plots)
    targets = result.targets()
    evaluable = targets[targets["p_met"].notna()]
    rows = [[r.scenario, r.target, r.year, f"{r.p_met:.1%}", f"{r.ci_low:.1%}-{r.ci_high:.1%}",
             num_cell(r.median)] for r in evaluable.itertuples()]
    print(table(["scenario", "target", "year", "P(met)", "95% CI", "median"], rows))
    diffs = result.differences()
    if len(diffs):
        rows = [[r.scenario, r.target, f"{100 * r.p_met_diff:+.1f} pp",
                 f"{100 * r.p_met_diff_low:+.1f} to {100 * r.p_met_diff_high:+.1f}",
                 num_cell(r.mean_diff)] for r in diffs.itertuples()]
        print("\nDifferences vs " + diffs["reference"].iloc[0]
              + " (paired, common random numbers):")
        print(table(["scenario", "target", "P(met) change", "95% CI (pp)", "mean change"], rows))
    print(f"run directory: {out}\nreport: {report}")


def cmd_compare(args) -> int:
    import sim

    _use_agg()
    scenarios = [sim.api.as_scenario(s) for s in args.scenarios]
    out = _default_out(args, "compare-" + "-".join(s.name for s in scenarios)[:60])
    result = sim.compare(scenarios, args.replications, args.seed, out=out,
                         **_experiment_options(args))
    _comparison_output(result, out, {k: r.scenario for k, r in result.results.items()},
                       not args.no_plots)
    _brief(args, out, {k: r.scenario for k, r in result.results.items()})
    return 0


def cmd_sweep(args) -> int:
    import sim
    from sim.reporting.sweep import write_sweep_report

    _use_agg()
    scenario = sim.api.as_scenario(args.scenario)
    if not scenario.spec.sweep:
        raise InputError("the scenario has no 'sweep:' grid", file=scenario.source, key="sweep")
    out = _default_out(args, scenario.name + "-sweep")
    result = sim.sweep(scenario, args.replications, args.seed, out=out, **_experiment_options(args))
    report = write_sweep_report(result, plots=not args.no_plots)
    print(result.summary())
    print(f"run directory: {out}\nreport: {report}")
    _brief(args, out)
    return 0


def cmd_report(args) -> int:
    from pathlib import Path

    from sim.reporting.results import load_result, run_scenarios, write_report
    from sim.reporting.sweep import SWEEP_FILE, SweepResult, write_sweep_report

    _use_agg()
    run_dir = Path(args.run_dir)
    if not (run_dir / "manifest.json").is_file():
        raise InputError("not a seisim run directory (no manifest.json)", file=str(run_dir))
    result = load_result(run_dir)
    scenarios = run_scenarios(run_dir)
    if (run_dir / SWEEP_FILE).is_file():  # a sweep keeps its one-table report
        result = SweepResult.open(run_dir, scenarios)
        report = write_sweep_report(result, plots=not args.no_plots)
    else:
        report = write_report(run_dir, scenarios, plots=not args.no_plots)
    print(result.summary())
    print(f"report: {report}")
    _brief(args, run_dir, scenarios)
    return 0


def cmd_brief(args) -> int:
    from sim.reporting.briefing import write_briefing

    _use_agg()
    paths = write_briefing(args.run_dir, args.lang)
    print(f"briefing: {paths['html']}\nworkbook: {paths['xlsx']}")
    return 0


def cmd_calibrate(args) -> int:
    from pathlib import Path

    from sim.calibration import calibrate
    from sim.reporting.calibration_report import write_calibration

    if args.data_through is not None:
        return _calibrate_through(args)
    result = calibrate(args.spec, workers=args.workers, bootstrap=args.bootstrap,
                       progress=not args.quiet, backend=args.backend, address=args.address,
                       work_dir=_calibration_work(args))
    root = Path(args.out)
    set_path, report = write_calibration(result, root / "sets", root / "reports")
    for row in result.moment_table():
        print(f"{row['moment']:<28} data {row['data']:>10,.4g}  simulated mean "
              f"{row['simulated_mean']:>10,.4g}  ({100 * row['relative_error']:+.2f}%)")
    for name, e in result.estimates().items():
        interval = (f" [{e['q05']:.4g}, {e['q95']:.4g}]" if "q05" in e else "")
        print(f"{name:<28} {e['value']:.4g}{interval}")
    print(f"parameter set: {set_path}\nreport: {report}\ntime: {result.seconds:.0f} s")
    return 0


def cmd_backtest(args) -> int:
    import re
    from pathlib import Path

    from sim.analysis.backtest import backtest_scenario
    from sim.api import backtest

    sc = backtest_scenario(args.scenario)
    out = Path(args.out) if args.out else Path("runs") / re.sub(
        r"[^A-Za-z0-9_.-]+", "_", f"{sc.name}-backtest-{_stamp()}")
    result = backtest(sc, args.origins, replications=args.replications,
                      bootstrap=args.bootstrap, seed=args.seed, calibration=args.calibration,
                      structure=args.structure, workers=args.workers, out=out,
                      backend=args.backend, address=args.address,
                      calibration_seed=args.calibration_seed, progress=not args.quiet)
    headline = result.table()
    rows = [[r.measure, r.points, _num(r.model_mae), _share(r.model_coverage_90),
             *(f"{_num(r[f'{m}_mae'])} ({r[f'{m}_n']})" for m in ("no_change", "linear_trend",
                                                                  "plan_path"))]
            for _, r in headline.iterrows()]
    print(table(["measure", "points", "model MAE", "90% cov.", "no change (n)",
                      "trend (n)", "plan path (n)"], rows))
    for note in result.notes:
        print(f"note: {note}")
    print(f"report: {out / 'report.md'}")
    return 0


def _stamp() -> str:
    import datetime as _dt

    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def _num(x) -> str:
    import math

    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.3g}"


def _share(x) -> str:
    import math

    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"


def _calibration_work(args):
    """The directory where a calibration keeps its finished refits (claimed for that spec)."""
    from pathlib import Path

    from sim.experiments.store import claim_directory

    if not args.work:
        return None
    args.resolved_out, args.out_option = Path(args.work), "--work"  # named after Ctrl-C
    return claim_directory(Path(args.work), "calibration", {"spec": Path(args.spec).stem})


def _calibrate_through(args) -> int:
    """``seisim calibrate SPEC --data-through YEAR``: the parameter set a mid-plan forecast
    (``as_of: YEAR``) runs with."""
    from pathlib import Path

    from sim.calibration import calibrate_through, load_spec
    from sim.experiments.backends import default_workers
    from sim.reporting.calibration_report import write_parameter_set

    spec, source = load_spec(args.spec)
    bootstrap = spec.bootstrap if args.bootstrap is None else args.bootstrap
    fit = calibrate_through(spec, source, args.data_through, bootstrap,
                            args.workers or default_workers(), not args.quiet,
                            backend=args.backend, address=args.address,
                            work_dir=_calibration_work(args))
    pset = fit.parameter_set(spec, source, seed=spec.seed)
    path = write_parameter_set(
        pset, Path(args.out) / "sets",
        f"Parameter set calibrated on data dated up to {args.data_through}.",
        f"seisim calibrate {args.spec} --data-through {args.data_through}")
    for row in fit.summary_rows():
        value = "-" if row["value"] is None else f"{row['value']:.4g}"
        print(f"{row['parameter']:<28} {row['status']:<13} {value}")
    print(f"moments up to {args.data_through}: {len(fit.moments)}; forecasts start from the "
          f"{fit.base_year} baseline\nparameter set: {path}")
    return 0


def _analysis_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario YAML file or region name")
    p.add_argument("--target", default=None,
                   help="target id from the plan (default: the plan's SEI share target)")
    p.add_argument("--factor", action="append", default=None, metavar="KEY=LOW:HIGH",
                   help="a factor and its range, e.g. levers.fund.scale=0.5:4 (repeatable; "
                        "default: the planner's levers and the scenario's uncertainties)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--out", default=None, help="run directory (default runs/<name>-<kind>-<time>)")
    p.add_argument("--backend", choices=["serial", "processes", "dask"], default="processes")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--address", default=None, help="Dask scheduler address (backend dask)")


def _backend(args) -> dict:
    return {"backend": args.backend, "workers": args.workers, "address": args.address}


def _quietly(analysis, *args, **kwargs):
    """Run an analysis without Python's warning display: its warnings (``.warnings``) are
    printed with the results and written to the report instead."""
    import warnings

    from sim.errors import AnalysisWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnalysisWarning)
        return analysis(*args, **kwargs)


def _print_warnings(result) -> None:
    for w in result.warnings:
        print(f"warning: {w}")


def cmd_sensitivity(args) -> int:
    import sim
    from sim.reporting.analysis_reports import write_sensitivity_report

    _use_agg()
    scenario = sim.api.as_scenario(args.scenario)
    out = _default_out(args, f"{scenario.name}-sensitivity")
    res = _quietly(sim.sensitivity, scenario, args.target, args.factor, method=args.method,
                   samples=args.samples, replications=args.replications, seed=args.seed,
                   out=out, **_backend(args))
    write_sensitivity_report(res, scenario, out, args.replications)
    print(res["indices"].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    _print_warnings(res)
    print(f"run directory: {out}")
    return 0


def cmd_discover(args) -> int:
    import sim
    from sim.reporting.analysis_reports import write_discovery_report

    _use_agg()
    scenario = sim.api.as_scenario(args.scenario)
    out = _default_out(args, f"{scenario.name}-discover")
    res = _quietly(sim.discover, scenario, args.target, args.factor, samples=args.samples,
                   mode=args.mode, density=args.density, seed=args.seed, out=out,
                   **_backend(args))
    write_discovery_report(res, scenario, out)
    box = res["restrictions"]
    print(f"cases where {res['spec'].id} is {res['mode']}: {res['share_of_interest']:.1%} of "
          f"{len(res['cases'])}")
    print(res["message"])
    if len(box):
        print(box.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    _print_warnings(res)
    print(f"run directory: {out}")
    return 0


def cmd_solve(args) -> int:
    import time

    import sim
    from sim.reporting.analysis_reports import fund_answer_line, write_solve_report

    _use_agg()
    scenario = sim.api.as_scenario(args.scenario)
    out = _default_out(args, f"{scenario.name}-solve")
    start = time.perf_counter()
    res = sim.solve(scenario, args.target, args.lever, args.prob, (args.low, args.high),
                    replications=args.replications, seed=args.seed, out=out,
                    **_backend(args))
    seconds = time.perf_counter() - start
    write_solve_report(res, scenario, out, (args.low, args.high), args.prob, seconds)
    print(res.curve.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(res.message)
    extra = fund_answer_line(res, scenario)
    if extra:
        print(extra)
    print(f"time: {seconds:.0f} s; run directory: {out}")
    return 0


DEMO_SCENARIOS = ("scenarios/chongqing-baseline.yaml", "scenarios/fuling-baseline.yaml",
                  "scenarios/chengdu-baseline.yaml")


def cmd_demo(args) -> int:
    """Chongqing, Fuling and Chengdu baselines, Monte Carlo, target tables and reports."""
    import time

    import sim
    from sim.paths import SHIPPED_ROOT
    from sim.reporting.results import write_report

    _use_agg()
    root = SHIPPED_ROOT
    out_root = _default_out(args, "demo")
    start = time.perf_counter()
    for rel in DEMO_SCENARIOS:
        scenario = sim.load_scenario(root / rel)
        out = out_root / scenario.name
        result = sim.monte_carlo(scenario, args.replications, out=out, backend=args.backend,
                                 workers=args.workers, progress=not args.no_progress)
        report = write_report(out, {"": scenario}, plots=True)
        print(result.summary())
        print(f"report: {report}")
        _brief(args, out, {"": scenario})
        print()
    print(f"demo finished in {time.perf_counter() - start:.1f} s; results in {out_root}")
    return 0


def add_simulation_commands(subparsers) -> None:
    run = subparsers.add_parser("run", help="one simulation run, printed as a yearly table")
    run.add_argument("scenario", help="scenario YAML file or region name")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--engine", choices=["numba", "mesa"], default="numba")
    run.add_argument("--csv", default=None, help="also write every column to this CSV file")
    run.set_defaults(func=cmd_run)

    mc = subparsers.add_parser("mc", help="Monte Carlo of a scenario: target probabilities",
                               description="Run a scenario's Monte Carlo into a run directory "
                                           "(tidy Parquet, targets.csv, plots, report.md).")
    mc.add_argument("scenario", help="scenario YAML file or region name")
    mc.add_argument("--as-of", type=int, default=None, metavar="YEAR",
                    help="mid-plan forecast: start from the latest plan state at or before YEAR "
                         "with parameters calibrated on data up to YEAR (scenario key as_of)")
    add_experiment_args(mc)
    mc.set_defaults(func=cmd_mc)

    sweep = subparsers.add_parser("sweep", help="run a scenario's sweep: grid on common random "
                                                "numbers")
    sweep.add_argument("scenario", help="scenario YAML file with a sweep: section")
    add_experiment_args(sweep)
    sweep.set_defaults(func=cmd_sweep)

    compare = subparsers.add_parser("compare", help="compare scenarios on common random numbers")
    compare.add_argument("scenarios", nargs="+", help="scenario YAML files or region names")
    add_experiment_args(compare)
    compare.set_defaults(func=cmd_compare)

    report = subparsers.add_parser("report", help="(re)write tables, plots and report.md of a "
                                                  "run directory")
    report.add_argument("run_dir")
    report.add_argument("--no-plots", action="store_true")
    add_brief_arg(report)
    report.set_defaults(func=cmd_report)

    brief = subparsers.add_parser(
        "brief", help="briefing.html and briefing.xlsx of a run directory, for officials",
        description="Write a self-contained briefing.html (charts embedded) and briefing.xlsx "
                    "(one sheet per table) beside report.md, in Chinese or English: the headline "
                    "target's probability first, targets in the plan's words and by importance, "
                    "sources, assumptions and how to reproduce the numbers.")
    brief.add_argument("run_dir")
    brief.add_argument("--lang", choices=["zh", "en"], default="zh",
                       help="language of the briefing (default: zh)")
    brief.set_defaults(func=cmd_brief)

    cal = subparsers.add_parser("calibrate", help="fit a region's free parameters to its plan "
                                                  "history (writes calibration/sets/...)")
    cal.add_argument("spec", help="calibration spec, e.g. calibration/chongqing-001.yaml")
    cal.add_argument("--out", default="calibration",
                     help="folder for sets/ and reports/ (default: calibration)")
    add_backend_args(cal)
    cal.add_argument("--work", default=None, metavar="DIR",
                     help="keep each finished refit in DIR, so rerunning the same command "
                          "after an interruption resumes instead of refitting")
    cal.add_argument("--bootstrap", type=int, default=None, help="override the bootstrap count")
    cal.add_argument("--data-through", type=int, default=None, metavar="YEAR",
                     help="use only data dated up to YEAR; writes the set <region>-<version>-"
                          "through-YEAR that scenarios with as_of: YEAR run with")
    cal.add_argument("--quiet", action="store_true")
    cal.set_defaults(func=cmd_calibrate)

    bt = subparsers.add_parser("backtest", help="rolling-origin back-test against published "
                                                "statistics, beside naive forecasts")
    bt.add_argument("scenario", help="scenario YAML file or region name (its region and plan "
                                     "version are back-tested)")
    bt.add_argument("--origins", type=int, nargs="+", default=None,
                    help="origin years (default: every year with statistics but the last)")
    bt.add_argument("--replications", type=int, default=300)
    bt.add_argument("--bootstrap", type=int, default=12,
                    help="bootstrap refits per origin for parameter uncertainty")
    bt.add_argument("--seed", type=int, default=None,
                    help="seed of the forecasts (default: the scenario's)")
    bt.add_argument("--calibration-seed", type=int, default=None,
                    help="seed of the refits at each origin (default: the calibration spec's "
                         "seed); vary both to see the scores' Monte Carlo noise")
    bt.add_argument("--structure", choices=["persist", "converge", "pooled"], default="pooled",
                    help="structural variant(s) to forecast with (default: both, pooled)")
    bt.add_argument("--calibration", nargs="+", default=None,
                    help="calibration spec(s), pooled with equal weights (default: by "
                         "--structure, calibration/<region>-<version>[-converge].yaml)")
    add_backend_args(bt)
    bt.add_argument("--out", default=None, help="new directory (default runs/<name>-backtest-"
                                                "<time>)")
    bt.add_argument("--quiet", action="store_true")
    bt.set_defaults(func=cmd_backtest)

    sens = subparsers.add_parser("sensitivity", help="Sobol or Morris indices of levers and "
                                                     "uncertainties (SALib)")
    _analysis_args(sens)
    sens.add_argument("--method", choices=["sobol", "morris"], default="sobol")
    sens.add_argument("--samples", type=int, default=64,
                      help="base samples N (Sobol: N*(D+2) points; Morris: trajectories)")
    sens.add_argument("--replications", type=int, default=8, help="replications per point")
    sens.set_defaults(func=cmd_sensitivity)

    disc = subparsers.add_parser("discover", help="PRIM boxes where a target is missed or met")
    _analysis_args(disc)
    disc.add_argument("--samples", type=int, default=400)
    disc.add_argument("--mode", choices=["missed", "met"], default="missed")
    disc.add_argument("--density", type=float, default=0.8, help="minimum box density")
    disc.set_defaults(func=cmd_discover)

    solve = subparsers.add_parser("solve", help="smallest lever value for P(target met) >= p")
    _analysis_args(solve)
    solve.add_argument("--lever", default="fund.scale",
                       help="lever (e.g. fund.scale, talent.supply, attraction)")
    solve.add_argument("--prob", type=float, default=0.8)
    solve.add_argument("--low", type=float, default=0.5)
    solve.add_argument("--high", type=float, default=16.0)
    solve.add_argument("--replications", type=int, default=200)
    solve.set_defaults(func=cmd_solve)

    demo = subparsers.add_parser("demo", help="the main job: Chongqing, Fuling and Chengdu baselines")
    demo.add_argument("-n", "--replications", type=int, default=1000)
    demo.add_argument("--out", default=None, help="output directory (default runs/demo-<time>)")
    demo.add_argument("--backend", choices=["serial", "processes", "dask"], default="processes")
    demo.add_argument("--workers", type=int, default=None)
    demo.add_argument("--no-progress", action="store_true")
    demo.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    add_brief_arg(demo)
    demo.set_defaults(func=cmd_demo)


# Registry and entry point ------------------------------------------------------------------------
#: Top-level subcommands, in the order ``seisim --help`` lists them. Add new ones (run, mc, ...)
#: here.
# seisim app ----------------------------------------------------------------------------------------
def cmd_app(args: argparse.Namespace) -> int:
    from sim.app import serve

    return serve(host=args.host, port=args.port, open_browser=not args.no_browser)


def add_app_command(subparsers) -> None:
    app = subparsers.add_parser("app", help="browser dashboard: pick a scenario, move the levers, "
                                            "see target probabilities (needs seisim[app])",
                                description="Start the dashboard server and open it in a browser.")
    app.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1: this computer only)")
    app.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    app.add_argument("--no-browser", action="store_true", help="do not open a browser")
    app.set_defaults(func=cmd_app)


COMMANDS: list[Callable] = [
    add_plan_command,
    add_simulation_commands,
    add_app_command,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seisim",
        description="Simulate and audit regional strategic-emerging-industry plans.")
    parser.add_argument("--version", action="version",
                        version=f"seisim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def _print_error(message: str) -> None:
    print("seisim: error: " + " ".join(str(message).split("\n")), file=sys.stderr)


def _resume_command(argv: list[str], out) -> str:
    """The command line that continues an interrupted run: the same arguments, with --resume and
    the run directory."""
    import shlex

    kept, skip = [], False
    for arg in map(str, argv):
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif not (arg == "--resume" or arg.startswith("--out=")):
            kept.append(arg)
    return "seisim " + " ".join(shlex.quote(a) for a in kept + ["--resume", "--out", str(out)])


def _rerun_command(argv: list[str], out, option: str = "--out") -> str:
    """The same command line with ``option`` naming the directory that holds finished work."""
    import shlex

    kept, skip = [], False
    for arg in map(str, argv):
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            kept.append(arg)
    return "seisim " + " ".join(shlex.quote(a) for a in kept + [option, str(out)])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input or usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.func(args)
    except InputError as exc:
        _print_error(str(exc))
        return 2
    except KeyboardInterrupt:
        from sim.experiments.store import ANALYSIS_MARKER

        out = getattr(args, "resolved_out", None)
        command = sys.argv[1:] if argv is None else list(argv)
        if out is not None and (Path(out) / "manifest.json").is_file():
            print(f"seisim: interrupted; finished chunks are kept in {out}; continue with: "
                  f"{_resume_command(command, out)}", file=sys.stderr)
        elif out is not None and (Path(out) / ANALYSIS_MARKER).is_file():
            # Analyses and calibrations reuse their finished work when rerun into the same
            # directory: the same command with that directory continues.
            print(f"seisim: interrupted; finished work is kept in {out}; continue with: "
                  f"{_rerun_command(command, out, getattr(args, 'out_option', '--out'))}",
                  file=sys.stderr)
        else:
            print("seisim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head or less, which stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
