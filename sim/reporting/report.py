"""``report.md``: a run directory explained in one page that links its tables and plots."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.experiments.store import RunStore


from sim.reporting import present


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _num(x) -> str:
    return present.plain(x)


def _year(x, missing: str = "") -> str:
    return missing if x is None or (isinstance(x, float) and math.isnan(x)) else str(int(x))


def targets_markdown(targets: pd.DataFrame, plan=None, lang: str = "en") -> str:
    """The target tables: one per group (headline, totals, industries, parks, firms, others),
    targets named in the plan's words, then the targets not evaluated with the reason. The last
    column is the target's key in ``targets.csv``."""
    loc = present.locale(lang)
    shown = present.present_targets(targets, plan, lang)
    col = loc["columns"]
    lines = []
    for group, rows in shown.groupby("group", sort=False):
        lines += [f"**{loc['groups'][group]}**", ""]
        if group == "not_evaluated":
            lines += [f"| {col['target']} | {col['year']} | {col['plan_value']} | {col['reason']} "
                      f"| {col['simulated']} | {col['source']} | key |",
                      "|---|---|---|---|---|---|---|"]
            for r in rows.itertuples():
                simulated = (f"{r.median_text} ({r.range_text})" if r.median_text else "")
                lines.append(f"| {r.name} | {r.year_text} | {r.threshold_text} | {r.reason_text} "
                             f"| {simulated} | {r.source_text} | `{r.target}` |")
        else:
            lines += [f"| {col['target']} | {col['year']} | {col['threshold']} | {col['p_met']} | "
                      f"{col['ci']} | {col['median']} | {col['range']} | {col['first_met']} | "
                      f"{col['source']} | key |", "|---|---|---|---|---|---|---|---|---|---|"]
            for r in rows.itertuples():
                rule = f" ({r.rule_text})" if r.rule_text else ""
                lines.append(f"| {r.name} | {r.year_text} | {r.threshold_text}{rule} | "
                             f"{_pct(r.p_met)} | {_pct(r.ci_low)}–{_pct(r.ci_high)} | "
                             f"{r.median_text} | {r.range_text} | {_year(r.first_met_median)} | "
                             f"{r.source_text} | `{r.target}` |")
        lines.append("")
    return "\n".join(lines).rstrip("\n")


#: A park whose above-scale SEI output reaches this share of its land is reported as full.
FULL_PARK = 0.9


def park_capacity_lines(result) -> list[str]:
    """When parks bind: entrants refused for lack of land, and parks whose output fills their land
    (land is measured in output units, ODD 5.1 rule 9) in the last simulated year."""
    inputs = result.scenario.model_inputs()
    from sim.model.baseline import UNLIMITED_LAND

    b = inputs.baseline  # pseudo parks have unlimited land whatever the expansion lever says
    parks = [(p, land) for p, land, base in zip(b.parks, inputs.land, b.park_land)
             if base < UNLIMITED_LAND]
    if not parks:
        return []
    columns = [f"sei_output.park.{p}" for p, _ in parks]
    annual = result.annual_columns("entries_blocked", *columns)
    last = annual[annual.year == annual.year.max()]
    blocked = annual.groupby("replication")["entries_blocked"].sum()
    lines = ["**Parks and land**: entrants refused for lack of land in "
             f"{(blocked > 0).mean():.0%} of replications (mean {blocked.mean():.1f} per "
             "replication over the horizon)."]
    for (park, land), column in zip(parks, columns):
        full = (last[column] >= FULL_PARK * land).mean()
        name = present.humanize(park, result.scenario.plan, "en")
        lines.append(f"- {name}: land for {land:,.0f} 亿元 of output; full (output at least "
                     f"{FULL_PARK:.0%} of it) in {full:.0%} of replications in "
                     f"{int(last.year.max())}")
    return lines + [""]


def structure_markdown(result) -> list[str]:
    """Evaluable targets' probabilities under each structural variant and pooled, when the
    replications used more than one variant (docs/ODD.md, 7.16)."""
    table = result.targets_by_structure()
    variants = [v for v in ("persist", "converge") if v in set(table["structure"])]
    if len(variants) < 2:
        return []
    pooled = present.present_targets(table[table["structure"] == "pooled"],
                                     result.scenario.plan if result.scenario else None, "en")
    names = dict(zip(pooled["target"], pooled["name"] + " " + pooled["year_text"]))
    order = {t: i for i, t in enumerate(pooled["target"])}
    wide = table[table["p_met"].notna()].pivot_table(index="target", columns="structure",
                                                     values="p_met", sort=False)
    wide = wide.loc[sorted(wide.index, key=order.get)]
    counts = result.outcomes.drop_duplicates("replication")["structure"].value_counts()
    lines = ["**By structural variant** (does the SEI growth premium persist or converge?): "
             + ", ".join(f"{v} {counts.get(v, 0)} replications" for v in variants), "",
             "| target | persist | converge | pooled |", "|---|---|---|---|"]
    for target, r in wide.iterrows():
        lines.append(f"| {names[target]} | {_pct(r.get('persist'))} | {_pct(r.get('converge'))} | "
                     f"{_pct(r.get('pooled'))} |")
    return lines + ["", "Table: `targets_by_structure.csv`", ""]


def stage_pace_lines(result) -> list[str]:
    """Targets in several years (Chengdu's 2025/2030/2035): the pace each stage needs (from the
    plan audit) next to the simulated pace over the same years and the chance the stage's target
    is met."""
    from sim.plans.audit import check_stage_pace

    plan = result.scenario.plan
    specs = {s.id: s for s in result.specs}
    targets = result.targets().set_index("target")
    rows = []
    for finding in check_stage_pace(plan):
        last = specs.get(finding.figures[-1])
        if finding.severity != "info" or last is None or not last.evaluable or last.members:
            continue
        annual = result.annual_columns(last.column)
        wide = annual.pivot(index="replication", columns="year", values=last.column)
        figures = [plan.figure(i) for i in finding.figures]
        share = last.unit == "%"
        for a, b in zip(figures, figures[1:]):
            need = finding.numbers.get(f"pace_{a.year}_{b.year}")
            if need is None or a.year not in wide.columns or b.year not in wide.columns:
                continue
            n = b.year - a.year
            pace = ((wide[b.year] - wide[a.year]) / n if share else
                    100 * ((wide[b.year] / wide[a.year]) ** (1 / n) - 1)).to_numpy()
            unit = "points/yr" if share else "%/yr"
            p_met = targets.loc[b.id, "p_met"] if b.id in targets.index else math.nan
            name = present.indicator_label(last.indicator, "en")
            rows.append(f"| {name} | {a.year}-{b.year} | {need:.2f} {unit} | "
                        f"{np.median(pace):.2f} [{np.quantile(pace, 0.05):.2f}, "
                        f"{np.quantile(pace, 0.95):.2f}] | {_pct(p_met)} |")
    if not rows:
        return []
    return ["Stage paces: what each stage of the plan needs (plan figures; floors read as "
            "floors) and what the model gives over the same years (median [5%, 95%] of "
            "replications); P(met) of the stage's target.", "",
            "| indicator | stage | needed | simulated | P(met) |", "|---|---|---|---|---|",
            *rows, ""]


def assumption_items(scenario, lang: str = "en", keys: bool = True) -> list[str]:
    """Every assumption the results rest on, one sentence each: figures no document gives
    (``assumption`` in the plan file, named in the reader's words, with their key in the plan
    file when ``keys``) and the scenario's own uncertain parameters. Results depend on them, and
    the data do not pin them down: they are prior-driven."""
    plan = scenario.plan
    items = []
    for f in plan.assumptions:
        low, high = f.canonical_range
        unit = f.canonical_unit
        value = (f"{present.amount(low, unit, lang)}-{present.amount(high, unit, lang)} (drawn "
                 "uniformly per replication)" if f.is_range else present.amount(low, unit, lang))
        name = present.indicator_label(f.indicator, lang, threshold=f.threshold, rank=f.rank)
        if f.scope != "region":
            name = present.locale(lang)["scope_format"].format(
                scope=present.humanize(f.scope_id, plan, lang), indicator=name)
        key = f" (`{f.id}`)" if keys else ""
        items.append(f"{name} {f.year} = {value}{key}; assumed by {f.assumption.by}: "
                     f"{f.assumption.why}")
    for key, dist in scenario.spec.uncertainties.items():
        items.append(f"`{key}`: drawn per replication from {dist.describe()} (scenario "
                     "uncertainty)")
    return items


def assumption_lines(scenario) -> list[str]:
    """The assumptions of :func:`assumption_items` as a report section."""
    items = assumption_items(scenario)
    if not items:
        return []
    return ["Assumptions the results rest on (prior-driven: no published figure pins them):",
            "", *[f"- {line}" for line in items], ""]


def data_basis(scenario) -> list[str]:
    """Which data and parameter set a scenario's forecast rests on, for the report."""
    plan = scenario.plan
    lines = [f"plan 《{plan.title}》 (version {plan.version}), baseline figures dated up to "
             f"{max(plan.baseline_years)}"
             + (f" (cut at as_of {scenario.spec.as_of})" if scenario.spec.as_of else "")]
    for variant, pset in scenario.parameter_sets.items():
        lines += _set_basis(pset, variant if len(scenario.parameter_sets) > 1 else None)
    if getattr(scenario, "data_note", ""):
        lines.append(scenario.data_note)
    from sim.analysis.solve import fund_investment_check

    lines.append(fund_investment_check(scenario)["message"])
    return lines


def _set_basis(pset, variant: str | None) -> list[str]:
    meta = pset.meta
    digest = pset.content_hash
    through = meta.get("data_through")
    lines = []
    prefix = f"{variant} variant: " if variant else ""
    if pset.name == "builtin":
        lines.append(prefix + "parameters: built-in defaults (no fitted set; asked for as "
                     f"`builtin`), content hash {digest[:12]}")
    else:
        lines.append(prefix + f"parameters: set `{pset.name}` ({pset.file or 'in memory'}, "
                     f"content hash {digest[:12]})"
                     + (f", calibrated on data up to {through}" if through else
                        ", fitted before data years were recorded")
                     + (f"; {len(pset.draws)} posterior draws sampled per replication"
                        if pset.draws else ""))
        if meta.get("prior_driven"):
            lines.append("prior-driven (the data hardly constrain them): "
                         + ", ".join(meta["prior_driven"]))
        if meta.get("prior_only"):
            lines.append("not fitted, drawn from their priors: " + ", ".join(meta["prior_only"]))
    return lines


def target_names(result, lang: str) -> dict[str, str]:
    """Target key -> the target in the reader's words, for tables keyed by target."""
    plan = result.scenario.plan if result.scenario is not None else None
    shown = present.present_targets(result.targets(), plan, lang)
    return dict(zip(shown["target"], shown["name"]))


def render_report(store: RunStore, sections, comparison) -> str:
    manifest = store.manifest()
    s = manifest["settings"]
    lines = ["# seisim run report", "",
             f"- replications: {s['replications']} per scenario, seed {s['seed']}, engine "
             f"{s['engine']}, backend {manifest.get('backend', '?')}",
             f"- status: {manifest.get('status')}; created {manifest.get('created')}; seisim "
             f"{manifest.get('seisim_version')}",
             ("- the fully resolved scenario, with the replications and seed used, is "
              "`scenario.yaml`; `seisim mc scenario.yaml --out NEW_DIR` reproduces these numbers"
              if len(sections) == 1 else
              "- the fully resolved scenarios (one per label, with the replications and seed "
              "used) are in `scenario.yaml`"), ""]
    charts = [f"![{caption}]({png})" for png, caption in (
        ("comparison_fans.png", "All scenarios on one axis"),
        ("comparison_probabilities.png", "P(target met) by scenario"))
        if comparison is not None and (store.path / png).exists()]
    if charts:
        lines += ["## All scenarios", "", *[c + "\n" for c in charts]]
    for label, result in sections:
        prefix = f"{label}/" if label else ""
        title = label or result.name
        lines += [f"## {title}", ""]
        if result.scenario is not None and result.scenario.spec.question:
            lines += [f"*Question:* {result.scenario.spec.question}", ""]
        targets = result.targets()
        plan = result.scenario.plan if result.scenario is not None else None
        lines += [targets_markdown(targets, plan), ""]
        lines += structure_markdown(result)
        lines += ["",
                  f"Tables: [targets.csv]({prefix}targets.csv), "
                  f"[first_met.csv]({prefix}first_met.csv); rows per replication and year in "
                  "`annual/`, per target in `outcomes/`.", ""]
        headline = result.headline_column()
        headline_name = next((present.indicator_label(spec.indicator, "en")
                              for spec in result.specs if spec.column == headline), headline)
        for png, caption in (("headline_fan.png", f"{headline_name} with the plan's targets"),
                             ("share_fan.png", "SEI share of industrial output"),
                             ("probabilities.png", "Probability each target is met"),
                             ("industry_outcomes.png", "Industry outcomes vs targets"),
                             ("park_outcomes.png", "Park outcomes vs targets")):
            if (store.path / prefix / png).exists():
                lines += [f"![{caption}]({prefix}{png})", ""]
        failures = result.failures
        if failures:
            lines += [f"**{len(failures)} replication(s) failed**; seeds and errors in "
                      "`failures/`.", ""]
        if result.scenario is not None:
            lines += park_capacity_lines(result)
            lines += stage_pace_lines(result)
            lines += assumption_lines(result.scenario)
            lines += ["What the forecast rests on:", ""] + [
                f"- {present.readable(line, plan, 'en')}"
                for line in data_basis(result.scenario)] + [""]
            notes = result.scenario.model_inputs().baseline.notes
            lines += ["Assumptions made where the plan is silent:", ""]
            lines += [f"- {present.readable(n, plan, 'en')}" for n in notes] + [""]
    if comparison is not None:
        d = comparison.differences()
        if len(d):
            lines += ["## Differences (paired by replication: common random numbers)", "",
                      "| scenario | vs | target | year | P(met) change | 95% CI | mean change |",
                      "|---|---|---|---|---|---|---|"]
            base = comparison.results[d["reference"].iloc[0]]
            names, units = target_names(base, "en"), {s.id: s.unit for s in base.specs}
            for r in d.itertuples():
                mean = present.amount(r.mean_diff, units.get(r.target, ""), "en")
                lines.append(f"| {r.scenario} | {r.reference} | {names.get(r.target, r.target)} | "
                             f"{r.year} | {100 * r.p_met_diff:+.1f} pp | "
                             f"{100 * r.p_met_diff_low:+.1f} to "
                             f"{100 * r.p_met_diff_high:+.1f} pp | "
                             f"{'+' if r.mean_diff > 0 else ''}{mean} |")
            lines += ["", "Table: [differences.csv](differences.csv)", ""]
    return "\n".join(lines)
