"""Published statistics of a region: what actually happened after (and before) a plan's base year.

Plans print a baseline and targets; statistical bulletins and government work reports later print
what happened. seisim keeps the two apart: a plan file (``seeds/<region>.yaml``) holds the plan's
own figures, a statistics file (``seeds/statistics/<region>.yaml``, format in
``docs/statistics-format.md``) holds published statistics, each with its definition, period,
qualifier and publication. Statistics are what calibration fits to and what back-tests score
forecasts against, so their definitions must be explicit: a share of above-scale industrial *value
added* is not a share of above-scale industrial *output*, and growth at comparable prices is not
the change of a nominal level.

Adding next year's bulletin means appending a few entries to the file; no code.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from sim.errors import InputError, nearest, nearest_concept
from sim.yamlio import load_located, raise_validation_error

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
STATISTICS_DIR = "statistics"


@dataclass(frozen=True)
class Measure:
    """What a statistic measures: its kind, price basis, unit and definition."""

    kind: Literal["level", "share", "growth", "count"]
    basis: Literal["nominal", "comparable_prices", "ratio", "count"]
    unit: str
    definition: str


#: The measures a statistic may report. Each has one definition; a bulletin figure that does not
#: fit any of them must not be forced into the nearest one.
MEASURES: dict[str, Measure] = {
    "sei_output": Measure(
        "level", "nominal", "亿元", "gross output of above-scale SEI industrial firms"),
    "sei_output_share": Measure(
        "share", "ratio", "%", "SEI share of above-scale industrial gross output"),
    "sei_share_of_industrial_value_added": Measure(
        "share", "ratio", "%", "SEI (manufacturing) share of above-scale industrial value added"),
    "sei_industrial_value_added_growth": Measure(
        "growth", "comparable_prices", "%",
        "growth of SEI (manufacturing) value added of above-scale industry, comparable prices"),
    "industrial_value_added_growth": Measure(
        "growth", "comparable_prices", "%",
        "growth of above-scale industrial value added, comparable prices"),
    "industrial_output": Measure(
        "level", "nominal", "亿元", "gross output of all above-scale industrial firms"),
    "industrial_value_added": Measure(
        "level", "nominal", "亿元", "value added of all above-scale industrial firms"),
    "gdp": Measure("level", "nominal", "亿元", "gross domestic (regional) product"),
    "gdp_growth": Measure("growth", "comparable_prices", "%",
                          "growth of gross domestic (regional) product, comparable prices"),
    "sei_value_added_share_gdp": Measure(
        "share", "ratio", "%", "SEI value added (industry and services) as a share of GDP"),
    "rd_intensity": Measure("share", "ratio", "%", "R&D expenditure as a share of GDP"),
    "industrial_investment": Measure(
        "level", "nominal", "亿元", "fixed-asset investment in industry"),
    "industrial_investment_growth": Measure(
        "growth", "nominal", "%", "growth of fixed-asset investment in industry, nominal"),
    "above_scale_industrial_firms": Measure(
        "count", "count", "firms", "number of above-scale industrial firms (all industries)"),
}

#: Sub-annual periods a statistic may cover, with the offset of the period's midpoint from the
#: midpoint of the calendar year (years are placed at their midpoints on the time axis).
PERIODS: dict[str, float] = {
    "year": 0.0, "H1": -0.25, "H2": 0.25, "Q1": -0.375, "Q1-Q3": -0.125,
}

Qualifier = Literal["exact", "about", "more_than", "at_least", "less_than"]
_PUBLISHED = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Statistic(_Strict):
    """One published figure."""

    id: str = Field(pattern=ID_PATTERN)
    measure: str
    scope: str = "region"
    year: int = Field(ge=1949, le=2100)
    period: str = "year"
    value: float
    unit: str
    qualifier: Qualifier = "exact"
    source: str = Field(min_length=3, description="the publication, in words")
    published: str = Field(description="publication date: YYYY, YYYY-MM or YYYY-MM-DD")
    note: str = ""

    @field_validator("measure")
    @classmethod
    def _known_measure(cls, value: str) -> str:
        if value not in MEASURES:
            raise ValueError(f"unknown measure '{value}'{nearest_concept(value, MEASURES)}; see "
                             "docs/statistics-format.md for the list and definitions")
        return value

    @field_validator("scope")
    @classmethod
    def _region_scope(cls, value: str) -> str:
        if value != "region":
            raise ValueError("statistics are region-wide: scope must be 'region'")
        return value

    @field_validator("period")
    @classmethod
    def _known_period(cls, value: str) -> str:
        if value not in PERIODS:
            raise ValueError(f"unknown period '{value}' (expected one of {', '.join(PERIODS)})")
        return value

    @field_validator("value")
    @classmethod
    def _value_range(cls, value: float, info: ValidationInfo) -> float:
        measure = MEASURES.get(info.data.get("measure", ""))
        if measure is not None and measure.kind == "share" and not 0 <= value <= 100:
            raise ValueError(f"share {value:g} is outside 0-100")
        if measure is not None and measure.kind in ("level", "count") and value < 0:
            raise ValueError(f"negative {measure.kind} {value:g}")
        return value

    @field_validator("unit")
    @classmethod
    def _unit_fits(cls, value: str, info: ValidationInfo) -> str:
        measure = MEASURES.get(info.data.get("measure", ""))
        if measure is not None and value != measure.unit:
            raise ValueError(f"unit '{value}' does not fit measure '{info.data['measure']}' "
                             f"(expected '{measure.unit}')")
        return value

    @field_validator("published", mode="before")
    @classmethod
    def _date_form(cls, value) -> str:
        if isinstance(value, (_dt.date, _dt.datetime)):
            value = value.isoformat()[:10]
        value = str(value)
        if not _PUBLISHED.match(value):
            raise ValueError(f"published '{value}' must be YYYY, YYYY-MM or YYYY-MM-DD")
        return value

    @property
    def definition(self) -> Measure:
        return MEASURES[self.measure]

    @property
    def time(self) -> float:
        """Position on the time axis: the calendar year, shifted for sub-annual periods."""
        return self.year + PERIODS[self.period]

    @property
    def label(self) -> str:
        return f"{self.year}" if self.period == "year" else f"{self.year} {self.period}"


class Break(_Strict):
    """A year from which SEI series change definition (e.g. the 2018 national SEI
    classification): figures before and after it are not comparable, so calibration fits a level
    shift in that year instead of reading the jump as growth."""

    year: int = Field(ge=1949, le=2100)
    note: str = Field(min_length=3, description="what changed, in words")
    source: str = Field(min_length=3)


class StatisticsFile(_Strict):
    format: Literal["seisim-statistics/1"]
    region: str = Field(pattern=ID_PATTERN)
    breaks: list[Break] = []
    statistics: list[Statistic] = Field(min_length=1)


@dataclass(frozen=True)
class Statistics:
    """The published statistics of one region, in file order."""

    region: str
    file: str
    items: tuple[Statistic, ...]
    breaks: tuple[Break, ...] = ()

    def find(self, measure: str | None = None, *, year: int | None = None,
             period: str | None = None, through: float | None = None) -> list[Statistic]:
        """Statistics matching the filters; ``through`` keeps those dated at or before a year."""
        items = self.items if measure is None else self._by_measure.get(measure, ())
        return [s for s in items
                if (year is None or s.year == year)
                and (period is None or s.period == period)
                and (through is None or s.year <= through)]

    @functools.cached_property
    def _by_measure(self) -> dict[str, tuple[Statistic, ...]]:
        """The items grouped by measure, in file order (every model compilation looks some up)."""
        groups: dict[str, list[Statistic]] = {}
        for s in self.items:
            groups.setdefault(s.measure, []).append(s)
        return {measure: tuple(found) for measure, found in groups.items()}

    def __len__(self) -> int:
        return len(self.items)

    @property
    def years(self) -> list[int]:
        return sorted({s.year for s in self.items})


def read_statistics_file(path: str | os.PathLike, display: str | None = None) -> Statistics:
    """Parse and validate a statistics file; errors are one line naming file, line and key."""
    path = Path(path)
    located = load_located(path, display or str(path))
    if not isinstance(located.data, dict):
        raise InputError("a statistics file must be a mapping at the top level",
                         file=located.file)
    try:
        parsed = StatisticsFile.model_validate(located.data)
    except ValidationError as exc:
        raise_validation_error(located, exc, StatisticsFile)
    if parsed.region != path.stem:
        raise located.error(("region",), f"region '{parsed.region}' must match the file name "
                                         f"'{path.stem}'")
    first_id: dict[str, int] = {}
    first_obs: dict[tuple, int] = {}
    for k, s in enumerate(parsed.statistics):
        if s.id in first_id:
            raise located.error(("statistics", k, "id"), f"duplicate id '{s.id}' (first at "
                                                         f"statistics[{first_id[s.id]}])")
        first_id[s.id] = k
        key = (s.measure, s.year, s.period)
        if key in first_obs:
            raise located.error(("statistics", k, "measure"),
                                f"{s.measure} {s.label} is already given at "
                                f"statistics[{first_obs[key]}]; keep one figure per period "
                                "(the latest revision)")
        first_obs[key] = k
    return Statistics(parsed.region, located.file, tuple(parsed.statistics), tuple(parsed.breaks))


@functools.lru_cache(maxsize=64)
def _read_cached(path: str, mtime_ns: int, display: str) -> Statistics:
    return read_statistics_file(path, display)


def load_statistics(region: str, plan_file: str | None = None) -> Statistics | None:
    """The published statistics of ``region``, or None if it has no statistics file.

    Looked up in ``statistics/`` beside the region's plan file first (so a user's own region
    directory works), then in the seed directories. Every model compilation (one per parameter
    draw in a Monte Carlo run) asks, so the candidate paths are worked out once per region, plan
    file, working directory and ``SEISIM_SEEDS``; which of them exists and its modification time
    are checked on every call, so a file added, edited or removed is seen at once.
    """
    cwd = os.getcwd()
    candidates = _statistics_candidates(region, plan_file, cwd, os.environ.get("SEISIM_SEEDS", ""))
    for path in candidates:
        try:
            status = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(status.st_mode):
            return _read_cached(path, status.st_mtime_ns, _display(path, cwd))
    return None


@functools.lru_cache(maxsize=64)
def _statistics_candidates(region: str, plan_file: str | None, cwd: str,
                           seeds_env: str) -> tuple[str, ...]:
    """Real paths where ``region``'s statistics file may be, in look-up order (see
    :func:`load_statistics`; ``cwd`` and ``seeds_env`` only key the cache)."""
    from sim.plans.loader import seed_dirs

    dirs = [Path(plan_file).parent] if plan_file is not None else []
    dirs += seed_dirs(existing=False)
    return tuple(dict.fromkeys(os.path.realpath(d / STATISTICS_DIR / f"{region}.yaml")
                               for d in dirs))


@functools.lru_cache(maxsize=64)
def _display(path: str, cwd: str) -> str:
    """``display_path`` of ``path`` (``cwd`` keys the cache: the display is relative to it)."""
    from sim.plans.loader import display_path

    return display_path(Path(path))
