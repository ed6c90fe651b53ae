"""Validated plan data: industries, parks, funds and the plan's figures, each with its source.

The file format is documented in ``docs/plan-format.md``. A plan file may hold several published
versions of one plan; :class:`PlanFile` is the file as written and :class:`Plan` is one version of it,
the object the model and the audit use.
"""

from __future__ import annotations

import datetime as _dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from sim.errors import nearest

ID_PATTERN = r"^[a-z][a-z0-9_]*$"

#: Units a figure may be written in, and the factor to the indicator's canonical unit.
UNIT_FACTORS: dict[str, tuple[str, float]] = {
    "亿元": ("亿元", 1.0),
    "万元": ("亿元", 1e-4),
    "%": ("%", 1.0),
    "firms": ("firms", 1.0),
    "persons": ("persons", 1.0),
    "万人": ("persons", 1e4),
    "count": ("count", 1.0),
}

AMOUNT = ("亿元", "万元")
PEOPLE = ("persons", "万人")

#: indicator -> allowed units. The meaning of each is in docs/plan-format.md.
INDICATORS: dict[str, tuple[str, ...]] = {
    "sei_output": AMOUNT,
    "sei_output_share": ("%",),
    "sei_value_added": AMOUNT,
    "sei_value_added_share_gdp": ("%",),
    "sei_output_growth": ("%",),
    "sei_value_added_growth": ("%",),
    "sei_firm_count": ("firms",),
    "firm_count_over": ("firms",),
    "cluster_count": ("count",),
    "cluster_class": AMOUNT,
    "listed_firm_count": ("firms",),
    "specialised_sme_count": ("firms",),
    "hightech_enterprise_count": ("firms",),
    "tech_sme_count": ("firms",),
    "rd_institution_count": ("count",),
    "key_lab_count": ("count",),
    "ip_demo_firm_count": ("firms",),
    "green_factory_count": ("count",),
    "rd_intensity": ("%",),
    "industrial_rd_intensity": ("%",),
    "rd_personnel": PEOPLE,
    "high_level_talent_added": PEOPLE,
    "high_tech_output": AMOUNT,
    "energy_intensity_decline": ("%",),
    "fund_count": ("count",),
    "fund_invested": AMOUNT,
    "fund_co_investment": AMOUNT,
}

#: Shares bounded by 0-100; growth rates and declines may exceed 100 or be negative.
SHARE_INDICATORS = {"sei_output_share", "sei_value_added_share_gdp", "rd_intensity",
                    "industrial_rd_intensity"}
SIGNED_INDICATORS = {"sei_output_growth", "sei_value_added_growth", "energy_intensity_decline"}
NEEDS_THRESHOLD = {"firm_count_over", "cluster_count"}

Qualifier = Literal["exact", "about", "more_than", "at_least", "class"]
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
        if not str(section).strip():
            raise ValueError(f"source for version '{version}' gives no section")
    return source


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
    group: str = ""


class Park(NamedItem):
    industries: list[str] = Field(min_length=1)


class Fund(NamedItem):
    pass


class Figure(StrictModel):
    id: str = Field(pattern=ID_PATTERN)
    indicator: str
    scope: str = "region"
    year: int = Field(ge=1949, le=2100)
    period: tuple[int, int] | None = None
    value: float
    unit: str
    qualifier: Qualifier = "exact"
    role: Role
    kind: Kind | None = None
    threshold: float | None = Field(default=None, gt=0, validate_default=True)
    note: str = ""
    source: Source

    _source = field_validator("source")(_check_source)

    @field_validator("indicator")
    @classmethod
    def _known_indicator(cls, value: str) -> str:
        if value not in INDICATORS:
            raise ValueError(f"unknown indicator '{value}'{nearest(value, INDICATORS)}")
        return value

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str, info: ValidationInfo) -> str:
        if value not in UNIT_FACTORS:
            raise ValueError(f"unknown unit '{value}' (expected one of {', '.join(UNIT_FACTORS)})")
        indicator = info.data.get("indicator")
        if indicator is not None and value not in INDICATORS[indicator]:
            raise ValueError(f"unit '{value}' does not fit indicator '{indicator}' "
                             f"(allowed: {', '.join(INDICATORS[indicator])})")
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
    def _value_range(cls, value: float, info: ValidationInfo) -> float:
        indicator = info.data.get("indicator")
        if indicator in SHARE_INDICATORS and not 0 <= value <= 100:
            raise ValueError(f"share {value:g} is outside 0-100")
        if indicator is not None and indicator not in SIGNED_INDICATORS and value < 0:
            raise ValueError(f"negative amount {value:g} for '{indicator}'")
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

    @property
    def canonical_unit(self) -> str:
        return UNIT_FACTORS[self.unit][0]

    @property
    def canonical_value(self) -> float:
        """The value in the indicator's canonical unit (亿元, %, firms, persons, count)."""
        return self.value * UNIT_FACTORS[self.unit][1]

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
    figures: tuple[Figure, ...]

    def __repr__(self) -> str:
        return (f"Plan({self.region!r}, version={self.version!r}, industries={len(self.industries)}, "
                f"parks={len(self.parks)}, funds={len(self.funds)}, figures={len(self.figures)})")

    __str__ = __repr__

    def source_of(self, item: Figure | Industry | Park | Fund) -> str:
        """'<document>, <section>' for an item of this version."""
        return f"{self.document}, {item.source[self.version]}"

    # Lookups --------------------------------------------------------------------------------
    def figure(self, figure_id: str) -> Figure:
        for f in self.figures:
            if f.id == figure_id:
                return f
        raise KeyError(f"no figure '{figure_id}' in {self.region} version {self.version}"
                       f"{nearest(figure_id, [f.id for f in self.figures])}")

    def find(self, indicator: str, *, scope: str | None = "region", year: int | None = None,
             role: str | None = None, threshold: float | None = None) -> list[Figure]:
        """Figures of ``indicator`` matching the filters (``scope=None`` matches any scope)."""
        return [f for f in self.figures
                if f.indicator == indicator and (scope is None or f.scope == scope)
                and (year is None or f.year == year) and (role is None or f.role == role)
                and (threshold is None or f.threshold == threshold)]

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
        return self.model_copy(update={"figures": tuple(
            f.model_copy(update={"value": f.value * factors[f.id]}) if f.id in factors else f
            for f in self.figures)})

    @property
    def baseline_years(self) -> list[int]:
        return sorted({f.year for f in self.figures if f.role == "baseline"})

    @property
    def target_years(self) -> list[int]:
        return sorted({f.year for f in self.figures if f.role == "target"})

    @property
    def targets(self) -> list[Figure]:
        return [f for f in self.figures if f.role == "target"]

    @property
    def industry_ids(self) -> list[str]:
        return [i.id for i in self.industries]

    @property
    def industrial_industries(self) -> list[Industry]:
        return [i for i in self.industries if i.sector == "industry"]

    @property
    def service_industries(self) -> list[Industry]:
        return [i for i in self.industries if i.sector == "services"]


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
        unknown_versions(section, getattr(plan_file, section))

    for version in plan_file.versions:
        def present(items):
            return [(i, it) for i, it in enumerate(items) if version in it.source]

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
        baseline_years = [f.year for _, f in figures if f.role == "baseline"]
        last_baseline = max(baseline_years) if baseline_years else None
        for i, fig in figures:
            if fig.scope != "region" and fig.scope_id not in known[fig.scope_kind]:
                problems.append((("figures", i, "scope"),
                                 f"unknown {fig.scope_kind} '{fig.scope_id}' in version '{version}'"
                                 f"{nearest(fig.scope_id, known[fig.scope_kind])}"))
            if fig.role == "target" and last_baseline is not None and fig.year <= last_baseline:
                problems.append((("figures", i, "year"),
                                 f"target year {fig.year} is not after the latest baseline year "
                                 f"{last_baseline}"))
    return problems
