"""How targets and numbers are shown to readers: names, order, groups, plain numbers, citations.

``report.md``, the briefing (HTML and Excel) and the plots all show the same targets, so the rules
live here once: a target is named with the plan's own words (industry and park names from the plan
file, indicator wording from the locale file), the headline SEI-share target comes first, then
whole-industry totals, industries, parks, firms and the rest, and targets the model cannot evaluate
come last in their own group with the reason. Numbers are plain (14,240 亿元, 35.0%), never in
scientific notation, and sources cite the plan's title and section, not the file it was read from.

Everything a reader sees in one language is in ``sim/reporting/locales/<lang>.yaml``.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from sim.errors import InputError
from sim.plans.indicators import INDICATORS

LOCALES = Path(__file__).with_name("locales")
LANGUAGES = ("zh", "en")

#: Group order of the target tables; ``not_evaluated`` is always last.
GROUPS = ("headline", "totals", "industries", "parks", "firms", "other", "not_evaluated")

#: Region targets that state the plan's main aim: the SEI part of the economy as a share.
HEADLINE_INDICATORS = ("sei_output_share", "sei_value_added_share_gdp",
                       "sei_share_of_industrial_value_added")


@lru_cache(maxsize=None)
def locale(lang: str) -> dict:
    """The wording of one language (``zh`` or ``en``) from its locale file."""
    if lang not in LANGUAGES:
        raise InputError(f"unknown language '{lang}' (expected one of {', '.join(LANGUAGES)})",
                         key="lang")
    return yaml.safe_load((LOCALES / f"{lang}.yaml").read_text(encoding="utf-8"))


# Numbers ------------------------------------------------------------------------------------------
def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def plain(x, decimals: int | None = None) -> str:
    """A number in plain notation with thousands separators: 14,240 / 35.4 / 2.35. Whole numbers
    drop their decimals when none are asked for, so counts read as counts."""
    if _missing(x):
        return ""
    x = float(x)
    if decimals is None:
        if x == round(x):
            decimals = 0
        else:
            decimals = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2
    text = f"{x:,.{decimals}f}"
    return "0" if text in ("-0", "-0.0", "-0.00") else text


def unit_label(unit: str, lang: str) -> str:
    return locale(lang)["units"].get(unit, {"label": unit})["label"]


def scaled(x, unit: str, lang: str):
    """``x`` (in the model's canonical unit) in the unit readers of ``lang`` see (en: 亿元 as
    billion yuan)."""
    if _missing(x):
        return None
    return float(x) * locale(lang)["units"].get(unit, {"factor": 1})["factor"]


#: Units of things counted one by one: shown as whole numbers (a quantile of 68.9 firms reads 69).
WHOLE_UNITS = ("firms", "persons", "count")


def amount(x, unit: str, lang: str, *, compact: bool = False) -> str:
    """A level with its unit: '14,240 亿元', '1,424 bn yuan', '35.0%', '12 家'; ``compact``
    drops the space before the unit (inside a Chinese phrase)."""
    if _missing(x):
        return ""
    u = locale(lang)["units"].get(unit, {"label": unit, "factor": 1, "sep": " "})
    value = float(x) * u["factor"]
    if unit == "%":  # one decimal; two for a figure written with two (a threshold of 12.35%)
        exact2 = abs(value * 100 - round(value * 100)) < 1e-6
        text = plain(value, 2 if exact2 and abs(value * 10 - round(value * 10)) > 1e-6 else 1)
    else:
        text = plain(value, 0 if unit in WHOLE_UNITS else None)
    return f"{text}{'' if compact else u['sep']}{u['label']}".strip()


def probability(p, decimals: int = 0) -> str:
    """A probability as a percentage: '28%'."""
    return "" if _missing(p) else f"{100 * float(p):.{decimals}f}%"


def light(p) -> str:
    """Traffic light of a probability: green from 80%, amber from 50%, red below."""
    if _missing(p):
        return "none"
    return "green" if p >= 0.8 else "amber" if p >= 0.5 else "red"


LIGHT_COLOURS = {"green": "#2e8b57", "amber": "#e8a317", "red": "#c0392b", "none": "#999999"}


# Names --------------------------------------------------------------------------------------------
def _figure(plan, target_id: str):
    if plan is None:
        return None
    try:
        return plan.figure(target_id)
    except KeyError:
        return None


def item_name(item, lang: str) -> str:
    """A plan's own name of a region, industry, park or fund in ``lang`` (``name`` or
    ``name_en`` in the plan file, as the locale says)."""
    return getattr(item, locale(lang)["plan_names"])


def _unit_name(plan, scope: str, lang: str) -> str:
    kind, _, ident = scope.partition(":")
    items = {"industry": plan.industries, "park": plan.parks,
             "fund": plan.funds}.get(kind, ()) if plan is not None else ()
    for item in items:
        if item.id == ident:
            return item_name(item, lang)
    return ident


def indicator_label(indicator: str, lang: str, *, scoped: bool = False, threshold=None,
                    rank: str | None = None, unit: str = "亿元") -> str:
    """The indicator in the reader's words; ``threshold`` and ``rank`` fill indicators defined by
    them (firms above a revenue, clusters of a size or rank)."""
    loc = locale(lang)
    text = (loc["scoped_indicators"].get(indicator) if scoped else None) or \
        loc["indicators"].get(indicator)
    if text is None:  # an indicator added to the registry but not yet worded
        text = INDICATORS[indicator].meaning if indicator in INDICATORS else indicator
    return text.format(threshold=amount(threshold, unit, lang, compact=loc["compact_units"])
                       if threshold else "",
                       rank=loc["ranks"].get(rank, rank or ""))


def target_name(row, plan, lang: str) -> str:
    """A target in the plan's words: the indicator, and the industry, park or fund it is for."""
    figure = _figure(plan, row.target)
    threshold = figure.threshold if figure is not None else None
    rank = figure.rank if figure is not None else None
    scoped = row.scope != "region"
    label = indicator_label(row.indicator, lang, scoped=scoped, threshold=threshold, rank=rank)
    if not scoped:
        return label
    return locale(lang)["scope_format"].format(scope=_unit_name(plan, row.scope, lang),
                                               indicator=label)


def humanize(text: str, plan, lang: str, *, indicators: bool = False) -> str:
    """Free text from the model (a reason, a scoring rule, a baseline note) with industry, park
    and fund ids replaced by their names, and with ``indicators`` indicator ids by their wording."""
    if not isinstance(text, str) or plan is None:
        return text if isinstance(text, str) else ""
    from sim.model.baseline import OTHER_PARK

    names = {i.id: item_name(i, lang) for i in (*plan.industries, *plan.parks, *plan.funds)}
    names[OTHER_PARK] = locale(lang)["outside_parks"]
    if indicators:
        names.update({k: indicator_label(k, lang) for k in INDICATORS
                      if k in text and k not in names})
    pattern = re.compile(r"'?\b(" + "|".join(map(re.escape, sorted(names, key=len,
                                                                    reverse=True))) + r")\b'?")
    return pattern.sub(lambda m: names[m.group(1)], text)


def readable(text: str, plan, lang: str) -> str:
    """Model-written text (baseline notes, data basis) as a reader should see it: the plan's
    document cited by its title instead of the file it was read from, ids by names."""
    if plan is None or not isinstance(text, str):
        return text
    text = text.replace(plan.document, f"《{plan.title}》")
    return humanize(text, plan, lang, indicators=True)


def citation(row, plan, lang: str) -> str:
    """Where a target is printed: the plan's title and section (never the file it was read
    from), a statistic's publication, or who assumed it."""
    figure = _figure(plan, row.target)
    if figure is None:
        return row.source if isinstance(row.source, str) else ""
    loc = locale(lang)
    if figure.source is not None:
        return loc["citation"].format(title=plan.title, section=figure.source[plan.version])
    if figure.statistic is not None:
        return f"{figure.statistic.publication} ({figure.statistic.published})"
    return loc["assumed_by"].format(by=figure.assumption.by)


def reason(row, plan, lang: str) -> str:
    """Why a target is not evaluated, in the reader's language; the model's own explanation
    follows in English readers' text (it names the missing mechanism)."""
    note = row.note if isinstance(row.note, str) else ""
    figure = _figure(plan, row.target)
    loc = locale(lang)["reasons"]
    if figure is not None and figure.unscored:
        kind, detail = "unscored", figure.unscored
    elif note.startswith("undated"):
        kind, detail = "undated", ""
    elif note.startswith("unquantified"):
        kind, detail = "unquantified", ""
    elif "not a separate unit" in note:
        kind, detail = "not_unit", note
    elif "sized on" in note:
        kind, detail = "coverage", note
    elif "not modelled" in note or "not tracked" in note or "not evaluated" in note or \
            "not identified" in note or "is an input" in note or "follows from" in note or \
            "different classification" in note or "covers SEI firms only" in note:
        kind, detail = "not_modelled", note
    else:
        kind, detail = "other", note
    text = loc[kind]
    if detail and lang == "en":
        text = humanize(detail, plan, lang)  # the model's own words say what is missing
    elif detail and kind == "unscored":
        text = f"{text}（{humanize(detail, plan, lang)}）"
    if "simulated count is shown" in note:
        text += loc["count_shown"]
    return text


def scoring_rule_text(row, figure, plan, lang: str) -> str:
    """How the plan's wording set the level to meet ("about 13" is met from 12.35), in the
    reader's words; the model's own sentence where the locale has no wording for the case."""
    model = humanize(row.rule, plan, lang) if isinstance(row.rule, str) else ""
    words = locale(lang).get("rules", {})
    if not model or figure is None or not words:
        return model
    unit = row.unit
    low, high = figure.canonical_range
    if figure.among and "among" in words:
        return words["among"].format(k=plain(row.threshold), n=len(figure.among),
                                     size=amount(figure.threshold, "亿元", lang))
    if figure.is_range and "range" in words:
        return words["range"].format(low=amount(low, unit, lang), high=amount(high, unit, lang))
    if figure.qualifier == "about" and "about" in words:
        return words["about"].format(value=amount(low, unit, lang),
                                     level=amount(row.threshold, unit, lang),
                                     tolerance=amount(low - row.threshold, unit, lang))
    return model


# Order and groups ---------------------------------------------------------------------------------
def target_group(row) -> str:
    """Which group a target is listed in (see :data:`GROUPS`)."""
    if pd.isna(row.p_met):
        return "not_evaluated"
    indicator = INDICATORS.get(row.indicator)
    kind, _, _ = str(row.scope).partition(":")
    if kind == "region" and row.indicator in HEADLINE_INDICATORS:
        return "headline"
    if kind == "industry" or row.indicator in ("cluster_class", "cluster_count"):
        return "industries"
    if kind == "park":
        return "parks"
    if indicator is not None and "firms" in indicator.units:
        return "firms"
    if kind == "region" and indicator is not None and indicator.kind in ("amount", "share"):
        return "totals"
    return "other"


def present_targets(targets: pd.DataFrame, plan, lang: str) -> pd.DataFrame:
    """``targets`` (``MonteCarloResult.targets()``) ordered for readers, with display columns:
    name, group, group_label, light and the formatted year, level, probability, interval, median,
    range, source and reason. Within a group, targets keep the plan's order, earlier years first;
    the headline target (first row) is the plan's latest SEI-share target that can be evaluated."""
    loc = locale(lang)
    if not len(targets):
        return targets.assign(name=[], group=[], group_label=[])
    rows = []
    for position, r in enumerate(targets.itertuples(index=False)):
        group = target_group(r)
        evaluated = not pd.isna(r.p_met)
        unit = r.unit
        level = r.threshold
        figure = _figure(plan, r.target)
        if _missing(level) and figure is not None and figure.value is not None:
            level = figure.canonical_range[0]  # an undated or unscored figure: what the plan says
        rows.append({
            "target": r.target, "name": target_name(r, plan, lang), "group": group,
            "group_label": loc["groups"][group], "light": light(r.p_met),
            "year_text": loc["undated"] if pd.isna(r.year) else str(int(r.year)),
            "threshold_text": amount(level, unit, lang),
            "p_text": probability(r.p_met),
            "ci_text": (f"{probability(r.ci_low)}–{probability(r.ci_high)}" if evaluated
                        else ""),
            "median_text": amount(r.median, unit, lang),
            "range_text": ("" if _missing(r.q05) else
                           f"{amount(r.q05, unit, lang)} – {amount(r.q95, unit, lang)}"),
            "source_text": citation(r, plan, lang),
            "reason_text": "" if evaluated else reason(r, plan, lang),
            "rule_text": scoring_rule_text(r, figure, plan, lang),
            "_group": GROUPS.index(group),
            "_headline_year": -(r.year if group == "headline" and not pd.isna(r.year) else 0),
            "_year": 9999 if pd.isna(r.year) else int(r.year),
            "_position": position})
    shown = pd.DataFrame(rows)
    out = pd.concat([targets.reset_index(drop=True), shown.drop(columns="target")], axis=1)
    # the headline group leads with its latest year: the plan's end-point aim
    out = out.sort_values(["_group", "_headline_year", "_year", "_position"], kind="stable")
    return out.drop(columns=["_group", "_headline_year", "_year", "_position"]).reset_index(
        drop=True)


def headline(presented: pd.DataFrame, lang: str) -> str:
    """The one sentence a briefing opens with: the first evaluated target's probability."""
    loc = locale(lang)
    evaluated = presented[presented["p_met"].notna()]
    if not len(evaluated):
        return loc["headline_none"]
    r = evaluated.iloc[0]
    return loc["headline"].format(name=r["name"], threshold=r["threshold_text"],
                                  year=r["year_text"], p=probability(r["p_met"]),
                                  low=probability(r["ci_low"]), high=probability(r["ci_high"]))
