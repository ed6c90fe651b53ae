"""The briefing: a run directory as an economist hands it to officials.

``briefing.html`` (one self-contained file: charts embedded as PNG, styles inline, so it can be
mailed or printed) and ``briefing.xlsx`` (one sheet per table, units in the headers) are written
beside ``report.md``, in Chinese or English. They open with one sentence, the chance of the plan's
headline target; name targets, industries and parks as the plan does; order targets by importance
and list those the model cannot evaluate apart, with the reason; cite the plan by title and
section; state the assumptions the numbers rest on; and say how to reproduce them.

Naming, order, number formats and citations come from :mod:`sim.reporting.present` (shared with
``report.md``), wording from ``locales/<lang>.yaml``, the page layout from
``templates/briefing.html.j2``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
import shlex
import unicodedata
from pathlib import Path

import pandas as pd

from sim.errors import InputError
from sim.experiments.store import RunStore
from sim.reporting import present
from sim.reporting.report import assumption_items, data_basis
from sim.reporting.results import run_scenarios

TEMPLATES = Path(__file__).with_name("templates")
HTML_NAME = "briefing.html"
XLSX_NAME = "briefing.xlsx"


# What a briefing shows, as plain data (the template and the workbook both read it) --------------
def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _headline_fan(result, shown: pd.DataFrame, lang: str):
    """Fan chart of the quantity the headline target is on, with the plan's targets on it."""
    from sim.reporting.plots import fan_chart

    evaluated = shown[shown["p_met"].notna() & shown["column"].notna()]
    specs = {s.id: s for s in result.specs}
    for row in evaluated.itertuples():
        spec = specs.get(row.target)
        if spec is None or spec.members:
            continue
        loc = present.locale(lang)["charts"]
        marks = [(s.year, s.threshold, "") for s in result.specs
                 if s.column == spec.column and s.evaluable]
        quantiles = result.quantiles(spec.column)
        factor = present.scaled(1.0, spec.unit, lang)
        quantiles = quantiles.assign(**{c: quantiles[c] * factor for c in quantiles.columns
                                        if c != "year"})
        return fan_chart(quantiles, targets=[(y, v * factor, "") for y, v, _ in marks],
                         title=loc["fan"].format(name=row.name),
                         ylabel=present.unit_label(spec.unit, lang),
                         legend={k: loc[k] for k in ("band90", "band50", "median")})
    return None


def _section(label: str, result, lang: str, charts: bool) -> dict:
    from sim.reporting.plots import probability_chart

    loc = present.locale(lang)
    scenario = result.scenario
    plan = scenario.plan if scenario is not None else None
    shown = present.present_targets(result.targets(), plan, lang)
    groups = [{"key": g, "label": rows["group_label"].iloc[0], "evaluated": g != "not_evaluated",
               "rows": rows.to_dict("records")}
              for g, rows in shown.groupby("group", sort=False)]
    images = []
    if charts and shown["p_met"].notna().any():
        images.append({"caption": loc["charts"]["probabilities"], "png": _png(probability_chart(
            shown, labels=shown["name"] + " " + shown["year_text"],
            title=loc["charts"]["probabilities"], xlabel=loc["charts"]["p_axis"]))})
        fan = _headline_fan(result, shown, lang)
        if fan is not None:
            images.append({"caption": fan.axes[0].get_title(), "png": _png(fan)})
    basis, notes, assumptions = [], [], []
    if scenario is not None:
        assumptions = [present.readable(a, plan, lang)
                       for a in assumption_items(scenario, lang, keys=False)]
        basis = [{"text": present.readable(line, plan, lang),
                  "prior": line.startswith(("prior-driven", "not fitted"))}
                 for line in data_basis(scenario)]
        notes = [present.readable(n, plan, lang) for n in scenario.model_inputs().baseline.notes]
    return {"label": label, "name": result.name, "shown": shown, "groups": groups,
            "headline": present.headline(shown, lang),
            "question": scenario.spec.question if scenario is not None else "",
            "plan": plan, "images": images, "assumptions": assumptions, "basis": basis,
            "notes": notes, "failures": len(result.failures), "result": result}


def reproduce_commands(manifest: dict, labels: list[str]) -> list[str]:
    """The ``seisim`` commands that give the same numbers: the resolved scenario (which pins the
    replications and seed) and the command the run was started with, when it was ``seisim``."""
    commands = []
    if labels == [""]:
        commands.append("seisim mc scenario.yaml --out NEW_DIR")
    argv = [str(a) for a in manifest.get("command") or []]
    program = Path(argv[0]) if argv else None
    by_seisim = program is not None and (program.name in ("seisim", "seisim.exe") or (
        program.name == "cli.py" and program.parent.name == "sim"))  # python -m sim.cli
    if by_seisim and len(argv) > 1:
        args, skip = [], False
        for arg in argv[1:]:
            if skip:
                skip = False
            elif arg in ("--out", "--resume") or arg.startswith("--out="):
                skip = arg == "--out"
            else:
                args.append(arg)
        settings = manifest["settings"]
        if "--seed" not in args:
            args += ["--seed", str(settings["seed"])]
        if "-n" not in args and "--replications" not in args:
            args += ["-n", str(settings["replications"])]
        commands.append("seisim " + " ".join(shlex.quote(a) for a in args + ["--out", "NEW_DIR"]))
    return commands


def _differences(comparison, names: dict, lang: str) -> list[dict]:
    if comparison is None:
        return []
    d = comparison.differences()
    rows = []
    for r in d.itertuples():
        rows.append({"scenario": r.scenario, "reference": r.reference,
                     "name": names.get(r.target, r.target), "year": int(r.year),
                     "change": f"{100 * r.p_met_diff:+.1f} pp",
                     "ci": f"{100 * r.p_met_diff_low:+.1f} – {100 * r.p_met_diff_high:+.1f} pp",
                     "p_met_diff": r.p_met_diff, "low": r.p_met_diff_low,
                     "high": r.p_met_diff_high})
    return rows


def briefing_content(run_dir: str | Path, lang: str = "zh", scenarios: dict | None = None,
                     charts: bool = True) -> dict:
    """Everything a briefing shows, in ``lang``, as plain data."""
    from sim.reporting.results import ComparisonResult, MonteCarloResult

    loc = present.locale(lang)
    store = RunStore(run_dir)
    manifest = store.manifest()
    labels = manifest["settings"]["labels"]
    scenarios = scenarios if scenarios and all(scenarios.get(k) for k in labels) else \
        run_scenarios(run_dir)
    sections = [_section(label, MonteCarloResult(run_dir, label, scenarios[label]), lang, charts)
                for label in labels]
    plan = sections[0]["plan"]
    comparison = ComparisonResult(run_dir, scenarios) if len(labels) > 1 else None
    names = {r["target"]: f"{r['name']} {r['year_text']}"
             for r in sections[0]["shown"].to_dict("records")}
    settings = manifest["settings"]
    plan_name = present.item_name(plan, lang) if plan is not None else ""
    return {
        "lang": lang, "loc": loc, "title": loc["title"].format(plan=plan_name),
        "plan": plan, "plan_name": plan_name, "plan_title": plan.title if plan is not None else "",
        "sections": sections, "differences": _differences(comparison, names, lang),
        "settings": settings, "manifest": manifest,
        "runs": loc["replications"].format(n=settings["replications"], seed=settings["seed"]),
        "reproduce": reproduce_commands(manifest, labels),
        "generated": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "colours": present.LIGHT_COLOURS,
    }


# Writers -----------------------------------------------------------------------------------------
def render_html(content: dict) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True, lstrip_blocks=True)
    return env.get_template("briefing.html.j2").render(**content)


def _width(text) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(text))


def _sheet(book, title: str, headers: list[str], rows: list[list], formats: dict | None = None):
    """One table as a sheet: bold frozen header row, widths from the content, number formats by
    column index."""
    from openpyxl.styles import Alignment, Font, PatternFill

    sheet = book.create_sheet(title[:31])
    sheet.append(headers)
    for row in rows:
        sheet.append([None if isinstance(v, float) and v != v else v for v in row])
    fill = PatternFill("solid", fgColor="DDE4EE")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    for index, column in enumerate(sheet.columns):
        widest = max(_width(c.value) if c.value is not None else 0 for c in column)
        sheet.column_dimensions[column[0].column_letter].width = min(max(widest + 2, 8), 60)
        for cell in column[1:]:
            if formats and index in formats:
                cell.number_format = formats[index]
    return sheet


def write_xlsx(content: dict, path: Path) -> Path:
    from openpyxl import Workbook

    loc, lang = content["loc"], content["lang"]
    col, sheets = loc["columns"], loc["sheets"]
    several = len(content["sections"]) > 1
    book = Workbook()
    book.remove(book.active)
    lead = [loc["scenario"]] if several else []

    def tag(section) -> list:
        return [section["name"]] if several else []

    evaluated, skipped, paths, assumptions = [], [], [], []
    for section in content["sections"]:
        for r in section["shown"].to_dict("records"):
            unit = present.unit_label(r["unit"], lang)
            year = None if pd.isna(r["year"]) else int(r["year"])
            if r["group"] == "not_evaluated":
                skipped.append(tag(section) + [r["name"], year, unit,
                                               present.scaled(r["threshold"], r["unit"], lang),
                                               r["reason_text"], r["source_text"]])
                continue
            evaluated.append(tag(section) + [
                r["group_label"], r["name"], year, unit,
                present.scaled(r["threshold"], r["unit"], lang),
                round(100 * r["p_met"], 1), round(100 * r["ci_low"], 1),
                round(100 * r["ci_high"], 1),
                present.scaled(r["median"], r["unit"], lang),
                present.scaled(r["q05"], r["unit"], lang),
                present.scaled(r["q95"], r["unit"], lang), r["source_text"]])
        fan = _path_rows(section, lang)
        paths += [tag(section) + row for row in fan]
        assumptions += [tag(section) + [loc["sections"]["assumptions"], a, loc["sections"][
            "prior_driven"]] for a in section["assumptions"]]
        assumptions += [tag(section) + [loc["sections"]["basis"], b["text"],
                                        loc["sections"]["prior_driven"] if b["prior"] else ""]
                        for b in section["basis"]]
        assumptions += [tag(section) + [loc["sections"]["plan_notes"], n, ""]
                        for n in section["notes"]]
    k = len(lead)
    pct = "0.0"
    number = "#,##0.0#"
    _sheet(book, sheets["targets"], lead + [
        col["group"], col["target"], col["year"], col["unit"], col["threshold"] + col["per_unit"],
        f"{col['p_met']} (%)", f"{col['ci_low']} (%)", f"{col['ci_high']} (%)",
        col["median"] + col["per_unit"], col["q05"] + col["per_unit"],
        col["q95"] + col["per_unit"], col["source"]], evaluated,
        {k + 4: number, k + 5: pct, k + 6: pct, k + 7: pct, k + 8: number, k + 9: number,
         k + 10: number})
    if skipped:
        _sheet(book, sheets["not_evaluated"], lead + [
            col["target"], col["year"], col["unit"], col["plan_value"] + col["per_unit"],
            col["reason"], col["source"]], skipped, {k + 3: number})
    if paths:
        unit = paths[0][k + 1]
        _sheet(book, sheets["path"], lead + [
            col["quantity"], col["unit"], col["year"], f"{col['q05']} ({unit})",
            f"{col['q25']} ({unit})", f"{col['q50']} ({unit})", f"{col['q75']} ({unit})",
            f"{col['q95']} ({unit})"], paths, {k + i: number for i in range(3, 8)})
    if content["differences"]:
        _sheet(book, sheets["differences"], [
            loc["scenario"], col["reference"], col["target"], col["year"],
            f"{col['difference']} (pp)", f"{col['ci_low']} (pp)", f"{col['ci_high']} (pp)"],
            [[d["scenario"], d["reference"], d["name"], d["year"], round(100 * d["p_met_diff"], 1),
              round(100 * d["low"], 1), round(100 * d["high"], 1)]
             for d in content["differences"]], {4: pct, 5: pct, 6: pct})
    _sheet(book, sheets["assumptions"], lead + [col["item"], col["text"], col["prior"]],
           assumptions)
    about = loc["about"]
    settings, manifest = content["settings"], content["manifest"]
    rows = [[about["plan"], content["plan_name"]], [about["document"], content["plan_title"]],
            *([about["scenario"], s["name"]] for s in content["sections"]),
            [about["replications"], settings["replications"]], [about["seed"], settings["seed"]],
            [about["engine"], settings["engine"]],
            [about["version"], manifest.get("seisim_version", "")],
            [about["created"], manifest.get("created", "")],
            *([about["command"], c] for c in content["reproduce"])]
    _sheet(book, sheets["about"], [col["item"], col["text"]], rows)
    tmp = path.with_suffix(".xlsx.partial")
    book.save(tmp)
    tmp.replace(path)
    return path


def _path_rows(section: dict, lang: str) -> list[list]:
    """Yearly quantiles of the quantity the headline target is on."""
    result, shown = section["result"], section["shown"]
    specs = {s.id: s for s in result.specs}
    for row in shown[shown["p_met"].notna()].itertuples():
        spec = specs.get(row.target)
        if spec is None or spec.members or spec.column is None:
            continue
        quantiles = result.quantiles(spec.column)
        unit = present.unit_label(spec.unit, lang)
        return [[present.indicator_label(spec.indicator, lang), unit, int(q.year),
                 *(present.scaled(getattr(q, c), spec.unit, lang)
                   for c in ("q05", "q25", "q50", "q75", "q95"))]
                for q in quantiles.itertuples()]
    return []


def write_briefing(run_dir: str | Path, lang: str = "zh", scenarios: dict | None = None,
                   charts: bool = True) -> dict[str, Path]:
    """Write ``briefing.html`` and ``briefing.xlsx`` into a run directory, in ``lang`` (``zh``
    or ``en``); returns their paths by kind (``html``, ``xlsx``). ``scenarios`` (by label) saves
    rebuilding them from the run's ``scenario.yaml``."""
    present.locale(lang)  # an unknown language fails before any work
    content = briefing_content(run_dir, lang, scenarios, charts)
    store = RunStore(run_dir)
    html = store.path / HTML_NAME
    tmp = html.with_suffix(".html.partial")
    tmp.write_text(render_html(content), encoding="utf-8")
    tmp.replace(html)
    xlsx = write_xlsx(content, store.path / XLSX_NAME)
    return {"html": html, "xlsx": xlsx}
