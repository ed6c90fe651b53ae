"""The dashboard page (Solara): pick a region and scenario, set levers, run, read the answer.

Everything computed here comes from :mod:`sim.app.session`, which calls the library the command
line uses; this module only lays out controls and results. Elements the browser test reads carry
``data-*`` attributes (lever values, the target table) so the test does not depend on layout.
"""

from __future__ import annotations

import html
import math

import matplotlib

matplotlib.use("Agg")  # the server draws figures to images; it has no screen

import matplotlib.pyplot as plt  # noqa: E402
import solara  # noqa: E402
import solara.lab  # noqa: E402

from sim.app import session  # noqa: E402
from sim.errors import InputError  # noqa: E402

REPLICATIONS_HINT = "a few hundred answer in seconds; thousands narrow the intervals"


def _pct(x) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


def _signed_pct(x) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.1%}"


def _level(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.4g}"


def target_table_html(run: session.DashboardRun) -> str:
    """The target table as HTML: probabilities with 95% intervals under the chosen levers, the
    status quo's probability and the paired difference (common random numbers)."""
    t = run.target_table()
    t = t.sort_values("p_met", key=lambda p: p.isna(), kind="stable")  # not evaluated: last
    head = ("<tr><th>target</th><th>year</th><th>threshold</th>"
            "<th>P(met), chosen levers [95% CI]</th><th>P(met), status quo</th>"
            "<th>difference [95% CI]</th><th>median</th></tr>")
    rows = []
    for r in t.to_dict("records"):
        target = html.escape(str(r["target"]))
        year = "" if r.get("year") is None or (isinstance(r.get("year"), float)
                                               and math.isnan(r["year"])) else str(int(r["year"]))
        unit = html.escape(str(r.get("unit") or ""))
        if isinstance(r["p_met"], float) and math.isnan(r["p_met"]):
            chosen = "not evaluated"
        else:
            chosen = (f'<span class="p-met">{_pct(r["p_met"])}</span> '
                      f'[{_pct(r["ci_low"])}, {_pct(r["ci_high"])}]')
        diff = ""
        if not (isinstance(r.get("p_met_diff"), float) and math.isnan(r["p_met_diff"])) \
                and r.get("p_met_diff") is not None:
            diff = (f'{_signed_pct(r["p_met_diff"])} [{_signed_pct(r["p_met_diff_low"])}, '
                    f'{_signed_pct(r["p_met_diff_high"])}]')
        median = _level(r.get("median"))
        rows.append(
            f'<tr data-target="{target}" data-p-met="{r["p_met"]!r}">'
            f"<td>{target}</td><td>{year}</td><td>{_level(r['threshold'])} {unit}</td>"
            f"<td>{chosen}</td><td class=\"p-status-quo\">{_pct(r.get('p_status_quo'))}</td>"
            f"<td>{diff}</td><td>{median} {unit if median else ''}"
            "</td></tr>")
    style = ("<style>#target-table {font-size: 0.9em} #target-table td, #target-table th "
             "{padding: 2px 6px; border-bottom: 1px solid #ddd; text-align: left; "
             "white-space: nowrap} #target-table td:first-child {white-space: normal; "
             "word-break: break-word}</style>")
    return (f'{style}<table id="target-table" style="border-collapse: collapse">'
            f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>")


class RunFailure(str):
    """Why a run did not finish, in one line; returned rather than raised so that the page always
    leaves its running state."""


@solara.lab.task
def run_task(path: str, levers: dict, replications: int, seed: int | None):
    """Run in a worker thread so the page stays responsive and shows progress."""

    def progress(done: int, total: int) -> None:
        run_task.progress = 100.0 * done / total if total else 100.0

    try:
        sc = session.open_scenario(path)
        return session.run_dashboard(sc, levers, replications, seed, progress=progress)
    except InputError as exc:
        return RunFailure(" ".join(str(exc).split()))
    except Exception as exc:  # shown on the page; the server goes on serving
        return RunFailure(" ".join(f"{type(exc).__name__}: {exc}".split()))


@solara.component
def FanCharts(run: session.DashboardRun):
    def figures():
        figs = []
        for result, title in ((run.adjusted, "chosen levers"), (run.baseline, "status quo")):
            fig = (result.plot_headline() if result.headline_column() is not None
                   else result.plot_share())
            fig.axes[0].set_title(f"{result.scenario.name if result.scenario else ''} "
                                  f"({title})", fontsize=10)
            figs.append(fig)
        return figs

    figs = solara.use_memo(figures, [run])
    solara.use_effect(lambda: (lambda: [plt.close(f) for f in figs]), [figs])
    with solara.Row():
        for fig in figs:
            with solara.Column(style={"flex": "1", "min-width": "0"}):
                solara.FigureMatplotlib(fig, format="png")


@solara.component
def LeverSlider(control: session.LeverControl, levers: solara.Reactive, scenario_value: float,
                problem: str | None = None):
    value = levers.value.get(control.key, scenario_value)
    low, high = control.span(scenario_value)

    def set_value(v: float) -> None:
        levers.set({**levers.value, control.key: round(float(v), 6)})

    slug = control.key.replace(".", "-")
    with solara.Column(classes=[f"lever lever-{slug}"], gap="0px"):
        solara.SliderFloat(control.label, value=value, min=low, max=high, step=control.step,
                           on_value=set_value, thumb_label=True, disabled=problem is not None)
        note = (f"not available here: {html.escape(problem)}" if problem is not None else
                f"{html.escape(control.label)} = <b>{value:g}</b> (scenario: "
                f"{scenario_value:g}); {html.escape(control.help)}")
        solara.HTML(tag="div", unsafe_innerHTML=note,
            attributes={"data-lever": control.key, "data-value": repr(float(value))},
            style="font-size: 0.8em; color: #555; margin-bottom: 8px")


@solara.component
def Results(run: session.DashboardRun):
    """What one run answered: settings, fan charts, the target table."""
    solara.use_effect(lambda: run.cleanup, [run])  # a newer run replaces this one's folder
    settings = run.adjusted.settings
    chosen = run.adjusted.scenario.spec.levers
    solara.HTML(tag="div", unsafe_innerHTML=(
        f"<b>{html.escape(run.adjusted.scenario.name)}</b> vs "
        f"<b>{html.escape(run.baseline.scenario.name)}</b>: "
        f"{run.adjusted.replications} replications each, seed {settings['seed']}, "
        "common random numbers (the same draws for both)."),
        attributes={"data-run-seed": str(settings["seed"]),
                    "data-run-replications": str(run.adjusted.replications),
                    "data-run-levers": chosen.model_dump_json()},
        classes=["run-summary"])
    FanCharts(run)
    solara.Markdown("### Targets")
    table = solara.use_memo(lambda: target_table_html(run), [run])
    solara.HTML(tag="div", unsafe_innerHTML=table, classes=["targets"])
    solara.Markdown(
        "P(met): share of replications meeting the target, with its 95% interval. "
        "Difference: chosen levers minus status quo, paired replication by replication.")


@solara.component
def Page():
    choices = solara.use_memo(session.scenario_choices, [])
    controls = solara.use_memo(session.lever_controls, [])
    usable = [c for c in choices if c.problem is None]
    regions = session.regions(choices)

    def first_of(region: str) -> str | None:
        names = [c.name for c in usable if c.region == region]
        preferred = f"{region}-baseline"
        return preferred if preferred in names else (names[0] if names else None)

    region = solara.use_reactive(regions[0] if regions else None)
    scenario_name = solara.use_reactive(first_of(region.value) if region.value else None)
    levers = solara.use_reactive({})
    replications = solara.use_reactive(session.DEFAULT_REPLICATIONS)
    seed = solara.use_reactive(None)

    by_name = {c.name: c for c in usable}
    choice = by_name.get(scenario_name.value)

    def load():
        if choice is None:
            return None, None
        try:
            return session.open_scenario(choice.path), None
        except InputError as exc:
            return None, str(exc)

    scenario, load_problem = solara.use_memo(load, [scenario_name.value])
    problems = solara.use_memo(lambda: session.lever_problems(scenario) if scenario else {},
                               [scenario_name.value])

    def reset_for_scenario():
        levers.set({})
        seed.set(scenario.spec.monte_carlo.seed if scenario is not None else None)

    solara.use_effect(reset_for_scenario, [scenario_name.value])

    def on_region(r: str) -> None:
        region.set(r)
        scenario_name.set(first_of(r))

    def start() -> None:
        if choice is None:
            return
        run_task(choice.path, dict(levers.value), int(replications.value or 0),
                 None if seed.value is None else int(seed.value))

    solara.Title("seisim dashboard")
    with solara.Sidebar():
        solara.Markdown("### Question")
        solara.Select("Region", values=regions, value=region.value, on_value=on_region)
        solara.Select("Scenario", values=[c.name for c in usable if c.region == region.value],
                      value=scenario_name.value, on_value=scenario_name.set)
        if choice is not None and choice.question:
            solara.Text(choice.question, style={"font-size": "0.9em"})
        if load_problem:
            solara.Error(load_problem)
        solara.Markdown("### Levers\nRelative to the calibrated status quo (1 = unchanged).")
        if scenario is not None:
            for control in controls:
                LeverSlider(control, levers, control.value_in(scenario),
                            problems.get(control.key))
            solara.Button("Reset levers to the scenario's", on_click=lambda: levers.set({}),
                          text=True)
        solara.Markdown("### Monte Carlo")
        solara.InputInt("Replications", value=replications, continuous_update=True)
        solara.Text(REPLICATIONS_HINT, style={"font-size": "0.8em", "color": "#555"})
        solara.InputInt("Seed", value=seed, optional=True, continuous_update=True)
        solara.Button(f"Run {replications.value or 0} replications", on_click=start,
                      color="primary", disabled=run_task.pending or scenario is None,
                      classes=["run-button"])

    solara.Markdown("## Chance of meeting the plan's targets")
    broken = [c for c in choices if c.problem is not None]
    for c in broken:
        solara.Warning(f"{c.name}: {c.problem}")
    if run_task.pending:
        done = run_task.progress
        solara.Text(f"Running {replications.value} replications of the status quo and of the "
                    f"chosen levers... {0 if done is None else done:.0f}%",
                    classes=["run-progress"])
        solara.ProgressLinear(True if not done else done)  # moving until the first chunk ends
    elif run_task.error:
        exc = run_task.exception
        solara.Error(" ".join(f"{type(exc).__name__}: {exc}".split()), classes=["run-error"])
    elif run_task.finished and isinstance(run_task.value, RunFailure):
        solara.Error(str(run_task.value), classes=["run-error"])
    elif run_task.finished and run_task.value is not None:
        Results(run_task.value)
    else:
        solara.Info("Pick a region and scenario, set the levers, and press Run.")
