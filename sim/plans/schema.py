"""Validated plan data: industries, parks, funds and the plan's figures, each with its source.

The file format is documented in ``docs/plan-format.md``. A plan file may hold several published
versions of one plan; :class:`PlanFile` is the file as written and :class:`Plan` is one version of it,
the object the model and the audit use.
"""

from __future__ import annotations

import datetime as _dt
from typing import Literal

from pydantic import (BaseModel, ConfigDict, Field, ValidationInfo, field_validator,
                      model_validator)

from sim.caching import MISSING, IdentityCache
from sim.errors import nearest
from sim.plans.indicators import INDICATORS, UNIT_FACTORS, suggest_indicator

ID_PATTERN = r"^[a-z][a-z0-9_]*$"

#: Shares bounded by 0-100; growth rates and declines may exceed 100 or be negative.
SHARE_INDICATORS = {k for k, ind in INDICATORS.items() if ind.kind == "share"}
SIGNED_INDICATORS = {k for k, ind in INDICATORS.items() if ind.signed}
NEEDS_THRESHOLD = {k for k, ind in INDICATORS.items() if ind.needs_threshold}

#: An "about" figure (左右, 约) without its own tolerance: within this fraction of its value. The
#: same margin draws "about" baselines (``allocation.about_margin``), so both readings agree.
ABOUT_TOLERANCE = 0.05

#: Section texts that say a figure is not in the document at all. Such a figure needs the source
#: kind that says so (``assumption`` or ``statistic``), not a fake section.
NOT_A_SECTION = ("assumed", "assumption", "assume", "estimate", "estimated", "n/a", "na", "none",
                 "tbd", "unknown", "-", "?", "not in plan", "not in the plan")

Qualifier = Literal["exact", "about", "more_than", "at_least", "class", "batch"]
Rank = Literal["world", "national", "provincial"]
Role = Literal["baseline", "target"]
Kind = Literal["expected", "binding"]
Sector = Literal["industry", "services"]

#: version id -> section of that version's document
Source = dict[str, str]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _check_source(source: Source) -> Source:
    if not source:
        raise ValueError("source must name at least one version and its section")
    for version, section in source.items():
        text = str(section).strip()
        if not text:
            raise ValueError(f"source for version '{version}' gives no section")
        if text.lower() in NOT_A_SECTION or text.lower().startswith("assum"):
            raise ValueError(f"'{text}' is not a section of the plan document: a figure the plan "
                             "does not print takes 'assumption: {by, why}' or 'statistic: "
                             "{publication, published}' instead of 'source'")
    return source


class StatisticRef(BaseModel):
    """A figure from a published statistic (bulletin, yearbook, statistics release)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    publication: str = Field(min_length=3)
    published: str = Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")


class AssumptionRef(BaseModel):
    """A figure nobody published: who assumed it and why. Reports list every assumption a result
    rests on, and results that depend on it are prior-driven."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    by: str = Field(min_length=2)
    why: str = Field(min_length=10)


class Version(StrictModel):
    document: str = Field(min_length=1)
    title: str = Field(min_length=1)
    published: _dt.date | None = None
    description: str = ""


class NamedItem(StrictModel):
    """An industry, park or fund: an id, its names, and where the plan names it."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    name_en: str
    note: str = ""
    source: Source

    _source = field_validator("source")(_check_source)


class Industry(NamedItem):
    sector: Sector
    #: whether the plan counts the industry as strategic emerging; the model gives SEI status (firm
    #: agents, SEI growth premium, fund eligibility) to flagged industries only
    sei: bool
    group: str = ""


class Park(NamedItem):
    industries: list[str] = Field(min_length=1)


class Fund(NamedItem):
    pass


class Figure(StrictModel):
    """One number a plan states (or a statistic or assumption the model needs), with its source.

    ``value`` is a number, a range ``[low, high]``, or absent for an unquantified count
    (qualifier ``batch``: 一批, 若干). A target without ``year`` is undated. Undated and
    unquantified figures are kept for the record and listed in reports, never used in arithmetic
    (see :attr:`Plan.unquantified`).
    """

    id: str = Field(pattern=ID_PATTERN)
    indicator: str
    scope: str = "region"
    year: int | None = Field(default=None, ge=1949, le=2100)
    period: tuple[int, int] | None = None
    value: float | tuple[float, float] | None = None
    unit: str
    qualifier: Qualifier = Field(default="exact", validate_default=True)
    tolerance: float | None = Field(default=None, gt=0)
    role: Role
    kind: Kind | None = None
    threshold: float | None = Field(default=None, gt=0, validate_default=True)
    among: tuple[str, ...] | None = None
    rank: Rank | None = Field(default=None, validate_default=True)
    #: a target kept for the record but not scored, and why (a slogan-like heading, a measure the
    #: plan leaves undefined); listed with the reason in every report
    unscored: str = ""
    note: str = ""
    statistic: StatisticRef | None = None
    assumption: AssumptionRef | None = None
    # Declared after the other two kinds so that its check sees them and an error points here.
    source: Source | None = Field(default=None, validate_default=True)
    versions: tuple[str, ...] | None = None

    @field_validator("source")
    @classmethod
    def _one_source_kind(cls, value: Source | None, info: ValidationInfo) -> Source | None:
        others = [k for k in ("statistic", "assumption") if info.data.get(k) is not None]
        given = others + (["source"] if value is not None else [])
        if len(given) != 1:
            raise ValueError("a figure needs exactly one of 'source' (the plan's section), "
                             "'statistic' (a publication) or 'assumption' (who and why); got "
                             + (", ".join(given) or "none"))
        return None if value is None else _check_source(value)

    @field_validator("indicator")
    @classmethod
    def _known_indicator(cls, value: str) -> str:
        if value not in INDICATORS:
            raise ValueError(f"unknown indicator '{value}'{suggest_indicator(value)}; the "
                             "vocabulary is listed in docs/plan-format.md")
        return value

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str, info: ValidationInfo) -> str:
        if value not in UNIT_FACTORS:
            raise ValueError(f"unknown unit '{value}' (expected one of {', '.join(UNIT_FACTORS)})")
        indicator = info.data.get("indicator")
        if indicator is not None and value not in INDICATORS[indicator].units:
            raise ValueError(f"unit '{value}' does not fit indicator '{indicator}' "
                             f"(allowed: {', '.join(INDICATORS[indicator].units)})")
        return value

    @field_validator("scope")
    @classmethod
    def _scope_form(cls, value: str) -> str:
        if value != "region":
            kind, _, ident = value.partition(":")
            if kind not in ("industry", "park", "fund") or not ident:
                raise ValueError(f"scope '{value}' must be 'region', 'industry:<id>', "
                                 "'park:<id>' or 'fund:<id>'")
        return value

    # The checks below need an earlier field (``info.data``); they are field validators rather than
    # one model validator so that an error points at the offending key's line, not the figure's.
    @field_validator("period")
    @classmethod
    def _period_ends_in_year(cls, value: tuple[int, int] | None,
                             info: ValidationInfo) -> tuple[int, int] | None:
        year = info.data.get("year")
        if value is not None and year is not None and not value[0] <= value[1] == year:
            raise ValueError(f"period {list(value)} must end in the figure's year {year}")
        return value

    @field_validator("value")
    @classmethod
    def _value_range(cls, value, info: ValidationInfo):
        indicator = info.data.get("indicator")
        if value is None:
            return value
        bounds = value if isinstance(value, tuple) else (value,)
        if isinstance(value, tuple) and not value[0] < value[1]:
            raise ValueError(f"range [{value[0]:g}, {value[1]:g}] must be [low, high] with "
                             "low < high")
        for v in bounds:
            if indicator in SHARE_INDICATORS and not 0 <= v <= 100:
                raise ValueError(f"share {v:g} is outside 0-100")
            if indicator is not None and indicator not in SIGNED_INDICATORS and v < 0:
                raise ValueError(f"negative amount {v:g} for '{indicator}'")
        return value

    @field_validator("qualifier")
    @classmethod
    def _qualifier_fits_value(cls, value: str, info: ValidationInfo) -> str:
        if "value" not in info.data:  # the value itself failed; that error is the one to show
            return value
        number = info.data.get("value")
        if value == "batch" and number is not None:
            raise ValueError("qualifier 'batch' (一批, 若干) is for counts the plan does not "
                             "quantify: omit 'value'")
        if number is None and value != "batch":
            raise ValueError("no 'value': give a number, a range [low, high], or qualifier "
                             "'batch' for an unquantified count (一批, 若干)")
        if isinstance(number, tuple) and value != "exact":
            raise ValueError(f"a range [low, high] takes no qualifier (got '{value}')")
        return value

    @field_validator("tolerance")
    @classmethod
    def _tolerance_for_about(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("qualifier") != "about":
            raise ValueError("'tolerance' applies to qualifier 'about' only")
        return value

    @field_validator("kind")
    @classmethod
    def _kind_for_targets(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("role") == "baseline":
            raise ValueError("'kind' (expected/binding) applies to targets only")
        return value

    @field_validator("threshold")
    @classmethod
    def _threshold_needed(cls, value: float | None, info: ValidationInfo) -> float | None:
        indicator = info.data.get("indicator")
        if indicator in NEEDS_THRESHOLD and value is None:
            raise ValueError(f"indicator '{indicator}' needs a 'threshold' in 亿元")
        return value

    @field_validator("among")
    @classmethod
    def _among_for_cluster_counts(cls, value, info: ValidationInfo):
        if value is not None:
            if info.data.get("indicator") != "cluster_count":
                raise ValueError("'among' (k of these industries) applies to 'cluster_count'")
            if len(set(value)) != len(value) or not value:
                raise ValueError("'among' must list distinct industry ids")
        return value

    @field_validator("rank")
    @classmethod
    def _rank_for_ranked_clusters(cls, value, info: ValidationInfo):
        ranked = info.data.get("indicator") == "ranked_cluster_count"
        if ranked and value is None:
            raise ValueError("indicator 'ranked_cluster_count' needs 'rank' (world, national or "
                             "provincial)")
        if value is not None and not ranked:
            raise ValueError("'rank' applies to 'ranked_cluster_count' only")
        return value

    @model_validator(mode="after")
    def _versions_and_year(self) -> Figure:
        if self.versions is not None and self.source is not None:
            raise ValueError("'versions' is for statistics and assumptions; a plan figure's "
                             "versions are the keys of its 'source'")
        if self.year is None and self.role == "baseline":
            raise ValueError("a baseline needs its 'year' (only targets may be undated)")
        if self.unscored and self.role != "target":
            raise ValueError("'unscored' applies to targets only")
        return self

    # Reading ---------------------------------------------------------------------------------
    @property
    def source_kind(self) -> str:
        """plan | statistic | assumption."""
        return "plan" if self.source is not None else (
            "statistic" if self.statistic is not None else "assumption")

    def applies_to(self, version: str) -> bool:
        if self.source is not None:
            return version in self.source
        return self.versions is None or version in self.versions

    @property
    def quantified(self) -> bool:
        """A number for a year that may be computed with (not marked ``unscored``)."""
        return self.value is not None and self.year is not None and not self.unscored

    @property
    def canonical_unit(self) -> str:
        return UNIT_FACTORS[self.unit][0]

    @property
    def canonical_value(self) -> float:
        """The value in the indicator's canonical unit (亿元, %, firms, persons, count); the
        middle of a range."""
        if self.value is None:
            raise ValueError(f"figure '{self.id}' has no value (qualifier batch)")
        low, high = self.canonical_range
        return (low + high) / 2

    @property
    def canonical_range(self) -> tuple[float, float]:
        """(low, high) in the canonical unit; equal for a single number."""
        factor = UNIT_FACTORS[self.unit][1]
        if isinstance(self.value, tuple):
            return self.value[0] * factor, self.value[1] * factor
        return self.value * factor, self.value * factor

    @property
    def is_range(self) -> bool:
        return isinstance(self.value, tuple)

    @property
    def scope_kind(self) -> str:
        return self.scope.partition(":")[0]

    @property
    def scope_id(self) -> str | None:
        return self.scope.partition(":")[2] or None


class PlanFile(StrictModel):
    """A plan file as written: several versions whose items are tagged by their sources."""

    format: Literal["seisim-plan/1"]
    region: str = Field(pattern=ID_PATTERN)
    name: str
    name_en: str
    parent: str | None = None
    versions: dict[str, Version] = Field(min_length=1)
    # Validated even when absent, so "several versions but no default" points at this key.
    default_version: str | None = Field(default=None, validate_default=True)
    industries: list[Industry] = Field(min_length=1)
    parks: list[Park] = []
    funds: list[Fund] = []
    figures: list[Figure] = Field(min_length=1)

    @field_validator("default_version")
    @classmethod
    def _default_version(cls, value: str | None, info: ValidationInfo) -> str | None:
        versions = info.data.get("versions")
        if versions is None:
            return value
        if value is None:
            if len(versions) > 1:
                raise ValueError("several versions: 'default_version' must name one")
        elif value not in versions:
            raise ValueError(f"default_version '{value}' is not one of the versions"
                             f"{nearest(value, versions)}")
        return value

    @property
    def default(self) -> str:
        return self.default_version or next(iter(self.versions))


#: Figures grouped by indicator, per figures tuple (see :meth:`Plan._by_indicator`). A module-level
#: cache rather than a private attribute, because a model's private attributes take part in its
#: equality.
_FIGURE_INDEX = IdentityCache(256)


class Plan(BaseModel):
    """One version of a region's plan: what the model, the audit and target evaluation read."""

    model_config = ConfigDict(frozen=True)

    region: str
    name: str
    name_en: str
    version: str
    versions: tuple[str, ...]
    document: str
    title: str
    file: str
    industries: tuple[Industry, ...]
    parks: tuple[Park, ...]
    funds: tuple[Fund, ...]
    figures: tuple[Figure, ...]           # quantified and dated: what arithmetic and scoring use
    #: undated, unquantified (一批) or ``unscored`` figures: listed, never computed with
    unquantified: tuple[Figure, ...] = ()

    def __repr__(self) -> str:
        return (f"Plan({self.region!r}, version={self.version!r}, industries={len(self.industries)}, "
                f"parks={len(self.parks)}, funds={len(self.funds)}, figures={len(self.figures)})")

    __str__ = __repr__

    def source_of(self, item: Figure | Industry | Park | Fund) -> str:
        """'<document>, <section>' for an item of this version; for a figure from statistics
        'statistic: <publication> (<date>)', for an assumption 'assumption by <who>: <why>'."""
        if item.source is not None:
            return f"{self.document}, {item.source[self.version]}"
        if item.statistic is not None:
            return f"statistic: {item.statistic.publication} ({item.statistic.published})"
        return f"assumption by {item.assumption.by}: {item.assumption.why}"

    @property
    def assumptions(self) -> list[Figure]:
        """Figures no document gives: results that use them are prior-driven on them."""
        return [f for f in self.figures + self.unquantified if f.assumption is not None]

    # Lookups --------------------------------------------------------------------------------
    def figure(self, figure_id: str) -> Figure:
        """A figure by id, computed-with or listed."""
        for f in self.figures + self.unquantified:
            if f.id == figure_id:
                return f
        raise KeyError(f"no figure '{figure_id}' in {self.region} version {self.version}"
                       f"{nearest(figure_id, [f.id for f in self.figures + self.unquantified])}")

    def find(self, indicator: str, *, scope: str | None = "region", year: int | None = None,
             role: str | None = None, threshold: float | None = None) -> list[Figure]:
        """Figures of ``indicator`` matching the filters (``scope=None`` matches any scope)."""
        return [f for f in self._by_indicator().get(indicator if scope is None
                                                    else (indicator, scope), ())
                if (year is None or f.year == year) and (role is None or f.role == role)
                and (threshold is None or f.threshold == threshold)]

    def _by_indicator(self) -> dict[str | tuple[str, str], list[Figure]]:
        """The figures grouped by indicator and by (indicator, scope), in plan order: built once
        per figures tuple (the model looks figures up dozens of times per compilation, once per
        parameter draw). A copy with other figures holds another tuple and so another index:
        ``as_of``'s copy builds its own on first use, ``with_factors`` derives its copy's from
        this one."""
        figures = self.figures
        index = _FIGURE_INDEX.get((figures,))
        if index is MISSING:
            index = {}
            for f in figures:
                index.setdefault(f.indicator, []).append(f)
                index.setdefault((f.indicator, f.scope), []).append(f)
            _FIGURE_INDEX.put((figures,), (), index)
        return index

    def value(self, indicator: str, *, scope: str = "region", year: int,
              threshold: float | None = None) -> float | None:
        """Canonical value of a figure, or None if the plan does not give it (the first match wins
        when a plan prints a figure twice, e.g. rounded in a table and exact in the text)."""
        found = self.find(indicator, scope=scope, year=year, threshold=threshold)
        return found[0].canonical_value if found else None

    def as_of(self, year: int) -> Plan:
        """The plan as a forecaster at the end of ``year`` could use it: baseline figures dated
        after ``year`` are dropped (targets are kept: they are aims, not data)."""
        return self.model_copy(update={"figures": tuple(
            f for f in self.figures if f.role == "target" or f.year <= year)})

    def with_factors(self, factors: dict[str, float]) -> Plan:
        """The plan with the named figures' values multiplied (a "more than" or "about" baseline
        drawn within its range for one replication)."""
        if not factors:
            return self
        def drawn(f: Figure) -> Figure:
            middle = sum(f.value) / 2 if f.is_range else f.value
            return f.model_copy(update={"value": middle * factors[f.id]})

        replaced = {id(f): drawn(f) for f in self.figures if f.id in factors}
        figures = tuple(replaced.get(id(f), f) for f in self.figures)
        # The copy's index is this plan's with the drawn figures in their places (a Monte Carlo
        # run makes one copy per parameter draw; only the lists holding a drawn figure change).
        index = dict(self._by_indicator())
        for f in replaced.values():
            for key in (f.indicator, (f.indicator, f.scope)):
                index[key] = [replaced.get(id(g), g) for g in index[key]]
        _FIGURE_INDEX.put((figures,), (), index)
        return self.model_copy(update={"figures": figures})

    @property
    def baseline_years(self) -> list[int]:
        return sorted({f.year for f in self.figures if f.role == "baseline"})

    @property
    def target_years(self) -> list[int]:
        return sorted({f.year for f in self.figures if f.role == "target"})

    @property
    def targets(self) -> list[Figure]:
        """Quantified, dated targets (the ones that can be scored)."""
        return [f for f in self.figures if f.role == "target"]

    @property
    def all_targets(self) -> list[Figure]:
        """Every target: the scored ones, then the listed ones (undated, unquantified, unscored),
        each group in file order."""
        return [f for f in self.figures + self.unquantified if f.role == "target"]

    @property
    def industry_ids(self) -> list[str]:
        return [i.id for i in self.industries]

    @property
    def industrial_industries(self) -> list[Industry]:
        """Industrial SEI industries: the ones whose firms the model simulates one by one."""
        return [i for i in self.industries if i.sector == "industry" and i.sei]

    @property
    def service_industries(self) -> list[Industry]:
        """SEI services industries (aggregate stocks, outside industrial output)."""
        return [i for i in self.industries if i.sector == "services" and i.sei]

    @property
    def non_sei_industries(self) -> list[Industry]:
        """Industries the plan names but does not count as SEI: part of the rest of industry."""
        return [i for i in self.industries if not i.sei]


def check_references(plan_file: PlanFile) -> list[tuple[tuple, str]]:
    """Cross-item checks pydantic cannot express per item; returns (key path, problem) pairs.

    Checked per version, since an item exists only in the versions its source names.
    """
    problems: list[tuple[tuple, str]] = []
    versions = set(plan_file.versions)

    def unknown_versions(section: str, items) -> None:
        for i, item in enumerate(items):
            for v in item.source:
                if v not in versions:
                    problems.append(((section, i, "source", v),
                                     f"unknown version '{v}'{nearest(v, versions)}"))

    for section in ("industries", "parks", "funds", "figures"):
        unknown_versions(section, [it for it in getattr(plan_file, section)
                                   if it.source is not None])
    for i, fig in enumerate(plan_file.figures):
        for k, v in enumerate(fig.versions or ()):
            if v not in versions:
                problems.append((("figures", i, "versions", k),
                                 f"unknown version '{v}'{nearest(v, versions)}"))

    for version in plan_file.versions:
        def present(items):
            return [(i, it) for i, it in enumerate(items)
                    if (it.applies_to(version) if isinstance(it, Figure) else
                        version in it.source)]

        for section in ("industries", "parks", "funds", "figures"):
            first: dict[str, int] = {}
            for i, it in present(getattr(plan_file, section)):
                if it.id in first:  # point at the repeat, which is the one to fix or re-tag
                    problems.append(((section, i, "id"),
                                     f"duplicate id '{it.id}' in version '{version}' (first at "
                                     f"{section}[{first[it.id]}])"))
                first.setdefault(it.id, i)
        industries = {it.id for _, it in present(plan_file.industries)}
        parks = {it.id for _, it in present(plan_file.parks)}
        funds = {it.id for _, it in present(plan_file.funds)}
        for i, park in present(plan_file.parks):
            for j, ind in enumerate(park.industries):
                if ind not in industries:
                    problems.append(((("parks", i, "industries", j)),
                                     f"unknown industry '{ind}' in park '{park.id}'"
                                     f"{nearest(ind, industries)}"))
        known = {"industry": industries, "park": parks, "fund": funds}
        figures = present(plan_file.figures)
        baseline_years = [f.year for _, f in figures if f.role == "baseline"
                          and f.source_kind == "plan"]
        last_baseline = max(baseline_years) if baseline_years else None
        for i, fig in figures:
            if fig.scope != "region" and fig.scope_id not in known[fig.scope_kind]:
                problems.append((("figures", i, "scope"),
                                 f"unknown {fig.scope_kind} '{fig.scope_id}' in version '{version}'"
                                 f"{nearest(fig.scope_id, known[fig.scope_kind])}"))
            for k, ind in enumerate(fig.among or ()):
                if ind not in industries:
                    problems.append((("figures", i, "among", k),
                                     f"unknown industry '{ind}'{nearest(ind, industries)}"))
            if (fig.role == "target" and fig.year is not None and last_baseline is not None
                    and fig.year <= last_baseline):
                problems.append((("figures", i, "year"),
                                 f"target year {fig.year} is not after the latest baseline year "
                                 f"{last_baseline}"))
    return problems
