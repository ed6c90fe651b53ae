"""The model's starting point, derived from a plan's baseline figures.

Plans give totals for a year or two, sometimes broken down by industry and park, often only size
classes. This module turns them into the exact aggregate state the synthetic population must match,
and records every assumption it had to make (``Baseline.notes``) so a user can see where the plan was
silent. Rules, in order of preference:

* a figure for the base year is used as printed;
* a figure missing in the base year is taken from the nearest year and scaled by the ratio of SEI
  output between the two years;
* industry outputs without figures come from size classes (千亿级, 五百亿级 ...), see
  :func:`industry_split`; future industries (group ``future``) start empty;
* parks without output figures are replaced by one region-wide pseudo park.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from sim.caching import MISSING, IdentityCache
from sim.errors import InputError
from sim.model.params import ModelParams
from sim.plans.indicators import INDICATORS
from sim.plans.schema import Figure, Plan
from sim.plans.sizing import (SIZING_FORMS, Sizing, base_figure, find_sizing, published_statistic,
                              sizing_problem)
from sim.plans.statistics import load_statistics

#: SEI value added per unit of SEI output where the plan gives no SEI value added (NBS
#: input-output tables put high-technology manufacturing near this ratio).
DEFAULT_SEI_VA_RATIO = 0.28
UNLIMITED_LAND = 1e12
REGION_PARK = "region"
OTHER_PARK = "outside_parks"
DEFAULT_RD_INTENSITY = 0.015
DEFAULT_FUND_PERIOD_YEARS = 5  # a five-year-plan period, when a fund total has no period
DEFAULT_NONSEI_GROWTH = 0.05
LINE_ROUNDING = 0.01  # industry lines within 1% of the printed total differ by rounding only
MIN_HISTORY_YEARS = 3  # shorter spans are too noisy to set a trend (Fuling's 2021 was a boom year)


@dataclass(frozen=True)
class FundBaseline:
    id: str
    annual_investment: float
    leverage: float
    source: str
    actual: bool  # True: a pace actually invested (plan figure); False: an announced size


@dataclass
class Baseline:
    """Aggregate state in the base year, the targets of the synthetic population."""

    region: str
    version: str
    year: int
    industries: list[str]                 # industrial SEI industries (firms live here)
    services: list[str]                   # SEI services industries (aggregate stocks)
    parks: list[str]
    industry_output: np.ndarray           # (J,) 亿元, exact baseline by industry
    park_output: np.ndarray               # (P,) 亿元
    cell_output: np.ndarray               # (P, J) 亿元, rows = parks
    cell_allowed: np.ndarray              # (P, J) bool
    park_land: np.ndarray                 # (P,) 亿元 of output the park's land can host
    services_output: np.ndarray           # (S,)
    above_scale_firms: int
    big_firm_threshold: float | None
    big_firms: int
    nonsei_output: float
    published_total_output: float         # SEI share denominator implied by the plan
    industry_coverage: str                # "above_scale" (规上) or "all" industry (全部工业)
    gdp: float
    va_ratio: float
    nonsei_va_ratio: float                # value added per unit of non-SEI output
    talent: float
    rd_mean: float
    nonsei_growth: float
    funds: list[FundBaseline]
    attraction_weights: np.ndarray        # (J,)
    fund_weights: np.ndarray              # (J,)
    notes: list[str] = field(default_factory=list)
    non_sei_industries: list[str] = field(default_factory=list)  # named, inside the rest

    @property
    def sei_industrial_output(self) -> float:
        return float(self.industry_output.sum())

    @property
    def strict_share(self) -> float:
        return 100 * self.sei_industrial_output / (self.sei_industrial_output + self.nonsei_output)


def default_base_year(plan: Plan) -> int:
    sizing = find_sizing(plan)
    if sizing is None:
        raise InputError(sizing_problem(plan), file=plan.file)
    return sizing.year


class _Reader:
    """Figure lookups with the nearest-year fallback, noting each fallback."""

    def __init__(self, plan: Plan, year: int, notes: list[str]):
        self.plan, self.year, self.notes = plan, year, notes

    def exact(self, indicator: str, scope: str = "region", year: int | None = None,
              threshold: float | None = None) -> Figure | None:
        found = [f for f in self.plan.find(indicator, scope=scope, year=year or self.year,
                                           role="baseline", threshold=threshold)]
        return found[0] if found else None

    def nearest(self, indicator: str, scope: str = "region",
                threshold: float | None = None) -> Figure | None:
        found = [f for f in self.plan.find(indicator, scope=scope, role="baseline",
                                           threshold=threshold)]
        if not found:
            return None
        return min(found, key=lambda f: (abs(f.year - self.year), -f.year))


def region_output(plan: Plan, year: int, notes: list[str]) -> float:
    """SEI output (region total as printed) in ``year``; derived from the next year's level and
    growth rate when only those are given."""
    value = plan.value("sei_output", year=year)
    if value is not None:
        return value
    nxt, growth = plan.value("sei_output", year=year + 1), plan.value("sei_output_growth",
                                                                     year=year + 1)
    if nxt is not None and growth is not None:
        notes.append(f"SEI output {year} derived from {year + 1} output {nxt:g} and growth "
                     f"{growth:g}%: {nxt / (1 + growth / 100):.1f}")
        return nxt / (1 + growth / 100)
    raise InputError(f"no SEI output for base year {year} in {plan.region} ({plan.version}); "
                     f"baseline years with output: {sorted({f.year for f in plan.find('sei_output')})}",
                     file=plan.file, path=("horizon", "start"))


def region_share(plan: Plan, year: int, notes: list[str]) -> float:
    share = plan.value("sei_output_share", year=year)
    if share is None:
        raise InputError(f"no SEI share of industrial output for base year {year} in "
                         f"{plan.region} ({plan.version}); the non-SEI economy cannot be sized",
                         file=plan.file, path=("horizon", "start"))
    return share


def industry_split(plan: Plan, year: int, industrial_total: float, rules: StructureRules,
                   notes: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Baseline output of each industrial and services industry.

    Explicit industry lines win. Otherwise size classes: an industry in a bounded class [c, c_next)
    gets the geometric middle sqrt(c * c_next); industries in the top class share what is left of
    the industrial total in proportion to their class floors; industries without a class get
    ``unclassed_fraction`` of the lowest floor; future industries start at zero.
    """
    reader = _Reader(plan, year, notes)
    industry_output = dict(rules.industry_output)
    industrial = [i for i in plan.industrial_industries]
    services = plan.service_industries
    out_ind: dict[str, float] = {}
    out_srv: dict[str, float] = {}

    lines = {i.id: reader.exact("sei_output", f"industry:{i.id}") for i in plan.industries}
    industrial_ids = {x.id for x in industrial}
    have_lines = any(f is not None for i, f in lines.items() if i in industrial_ids)
    for s in services:
        f = lines[s.id] or reader.nearest("sei_output", f"industry:{s.id}")
        if f is not None:
            out_srv[s.id] = f.canonical_value
    if industry_output:
        unknown = set(industry_output) - {i.id for i in plan.industries}
        if unknown:
            raise InputError(f"allocation.industry_output names unknown industries "
                             f"{sorted(unknown)}")
        for i in industrial:
            out_ind[i.id] = float(industry_output.get(i.id, 0.0))
        for s in services:
            if s.id in industry_output:
                out_srv[s.id] = float(industry_output[s.id])
        notes.append("industry outputs taken from the parameter set (allocation.industry_output)")
        return out_ind, _fill_services(services, out_srv, notes)
    if have_lines:
        for i in industrial:
            f = lines[i.id]
            out_ind[i.id] = f.canonical_value if f is not None else 0.0
        return out_ind, _fill_services(services, out_srv, notes)

    classes = {}  # size classes of SEI industries only: a non-SEI class sizes nothing here
    for i in industrial + services:
        f = reader.exact("cluster_class", f"industry:{i.id}")
        if f is not None:
            classes[i.id] = f.canonical_value
    floors = sorted(set(classes.values()))
    if not floors:
        notes.append("no industry breakdown or size class in the plan: industrial output split "
                     "equally over the non-future industries")
        active = [i for i in industrial if i.group != "future"] or industrial
        for i in industrial:
            out_ind[i.id] = industrial_total / len(active) if i in active else 0.0
        return out_ind, _fill_services(services, out_srv, notes)

    top = floors[-1]
    fixed = 0.0
    top_members = []
    for i in industrial:
        if i.group == "future":
            out_ind[i.id] = 0.0
        elif i.id in classes and classes[i.id] == top:
            top_members.append(i.id)
        elif i.id in classes:
            nxt = floors[floors.index(classes[i.id]) + 1]
            out_ind[i.id] = math.sqrt(classes[i.id] * nxt)
            fixed += out_ind[i.id]
        else:
            out_ind[i.id] = rules.unclassed_fraction * floors[0]
            fixed += out_ind[i.id]
    remainder = industrial_total - fixed
    top_floor_sum = top * len(top_members)
    if top_members and remainder >= top_floor_sum:
        for i in top_members:
            out_ind[i] = remainder / len(top_members)
    else:
        # Classes inconsistent with the total: scale everything proportionally instead.
        for i in top_members:
            out_ind[i] = top
        scale = industrial_total / sum(out_ind.values())
        out_ind = {k: v * scale for k, v in out_ind.items()}
        notes.append("size classes do not fit the industrial total; class-based split scaled "
                     f"by {scale:.3f}")
    notes.append("industry outputs inferred from size classes (top class takes the remainder, "
                 "bounded classes the geometric middle, unclassed "
                 f"{rules.unclassed_fraction:g} x lowest floor): "
                 + ", ".join(f"{k} {v:.0f}" for k, v in out_ind.items() if v > 0))
    for s in services:
        if s.id not in out_srv and s.id in classes:
            c = classes[s.id]
            out_srv[s.id] = c * rules.services_top_class_factor if c == top else \
                math.sqrt(c * floors[floors.index(c) + 1])
    return out_ind, _fill_services(services, out_srv, notes)


def split_year(plan: Plan, year: int) -> int:
    """The baseline year whose industry lines or size classes split the base-year output: the base
    year itself if it has them, else the nearest year that does."""
    years = {f.year for f in plan.figures if f.role == "baseline" and (
        f.indicator == "cluster_class" or (f.indicator == "sei_output" and f.scope_kind == "industry"))}
    if not years or year in years:
        return year
    return min(years, key=lambda y: (abs(y - year), -y))


def _fill_services(services, out_srv, notes):
    for s in services:
        if s.id not in out_srv:
            out_srv[s.id] = 0.0
            notes.append(f"no baseline output for services industry {s.id}: starts at 0")
    return out_srv


def ipf(row_totals: np.ndarray, col_totals: np.ndarray, allowed: np.ndarray,
        iterations: int = 500) -> np.ndarray:
    """Iterative proportional fitting of a (rows x cols) matrix with structural zeros.

    Returns a non-negative matrix whose row sums equal ``row_totals`` exactly and whose column sums
    approach ``col_totals`` as closely as the zero pattern allows. Converged when every column sum
    is within 1e-9 + 1e-13 x its total (``np.allclose``'s rule).
    """
    row_totals = np.ascontiguousarray(row_totals, dtype=float)
    col_totals = np.ascontiguousarray(col_totals, dtype=float)
    m = np.ascontiguousarray(allowed.astype(float) * np.outer(row_totals, col_totals))
    m[np.outer(row_totals, col_totals) == 0] = 0.0
    m += allowed * 1e-12
    _fit_proportions(m, row_totals, col_totals, 1e-9 + 1e-13 * np.abs(col_totals), iterations,
                     _numpy_sum_program(m.shape[1]), _numpy_sum_program(m.shape[0]))
    return m


@njit(cache=True, error_model="numpy")
def _fit_proportions(m, row_totals, col_totals, tolerance, iterations, row_sum, column_sum):
    """The fitting loop of :func:`ipf`, in place (it runs once per parameter draw). Its sums are
    numpy's, bit for bit (on up to 8,192 cells; numpy buffers larger arrays, and their rounding
    may differ): column sums row after row (a single column as one contiguous run),
    row sums by :func:`_numpy_sum` (``row_sum`` and ``column_sum``: its programs)."""
    rows, cols = m.shape
    cs = np.zeros(cols)
    _column_sums(m, cs, column_sum)
    for _ in range(iterations):
        for c in range(cols):
            factor = col_totals[c] / cs[c] if cs[c] > 0 else 0.0
            for r in range(rows):
                m[r, c] *= factor
        for r in range(rows):
            rs = _numpy_sum(m[r], row_sum)
            factor = row_totals[r] / rs if rs > 0 else 0.0
            for c in range(cols):
                m[r, c] *= factor
        _column_sums(m, cs, column_sum)
        converged = True
        for c in range(cols):
            if not abs(cs[c] - col_totals[c]) <= tolerance[c]:
                converged = False
        if converged:
            break


@njit(cache=True, error_model="numpy")
def _column_sums(m, out, program):
    if m.shape[1] == 1:  # numpy sums an (n, 1) array's column as a contiguous run
        out[0] = _numpy_sum(m[:, 0], program)
        return
    out[:] = 0.0
    for r in range(m.shape[0]):
        for c in range(m.shape[1]):
            out[c] += m[r, c]


def _numpy_sum_program(n: int) -> np.ndarray:
    """How numpy adds a contiguous run of ``n`` values: it halves runs longer than 128 (at a
    multiple of 8) and adds the halves' sums. As a postfix program for :func:`_numpy_sum`: rows
    (start, length) sum a run of at most 128 values, rows (-1, 0) add the last two sums."""
    if n <= 128:
        return np.array([[0, n]], np.int64)
    half = n // 2 - (n // 2) % 8
    right = _numpy_sum_program(n - half)
    right[right[:, 0] >= 0, 0] += half
    return np.vstack([_numpy_sum_program(half), right, [[-1, 0]]])


@njit(cache=True, error_model="numpy")
def _numpy_sum(a, program):
    """``a.sum()`` of a contiguous vector as numpy adds it, bit for bit (``program`` from
    :func:`_numpy_sum_program`): runs of under 8 values one after the other, runs of up to 128 in
    eight partial sums."""
    stack = np.empty(program.shape[0])
    top = 0
    for k in range(program.shape[0]):
        lo, n = program[k, 0], program[k, 1]
        if lo < 0:
            top -= 1
            stack[top - 1] += stack[top]
            continue
        if n < 8:
            res = 0.0
            for i in range(n):
                res += a[lo + i]
        else:
            r = np.empty(8)
            for j in range(8):
                r[j] = a[lo + j]
            i = 8
            while i < n - (n % 8):
                for j in range(8):
                    r[j] += a[lo + i + j]
                i += 8
            res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
            while i < n:
                res += a[lo + i]
                i += 1
        stack[top] = res
        top += 1
    return stack[0]


def draw_figure_factors(plan: Plan, params: ModelParams, rng: np.random.Generator) -> dict:
    """One replication's multipliers of the plan's qualified baseline figures: "more than" and
    "at least" X within [X, X(1+more_than_margin)], "about" X within X(1 +- about_margin)
    (uniform), a range [low, high] within it, in the plan's figure order. Exact figures and
    targets are not drawn."""
    a = params.allocation
    factors = {}
    for f in qualified_baselines(plan):
        if f.is_range:  # uniform over the range, as a multiple of its middle
            low, high = f.canonical_range
            middle = (low + high) / 2
            factors[f.id] = (low + (high - low) * rng.random()) / middle
        elif f.qualifier == "about":
            factors[f.id] = 1.0 + a.about_margin * (2.0 * rng.random() - 1.0)
        else:
            factors[f.id] = 1.0 + a.more_than_margin * rng.random()
    return factors


def qualified_baselines(plan: Plan) -> list:
    """Baseline figures printed as a range ("more than", "at least", "about", or [low, high]), in
    plan order (found once per figures tuple: a Monte Carlo run draws them per replication)."""
    figures = plan.figures
    found = _QUALIFIED.get((figures,))
    if found is MISSING:
        found = _QUALIFIED.put((figures,), (), [f for f in figures if f.role == "baseline" and (
            f.is_range or f.qualifier in ("more_than", "at_least", "about"))])
    return list(found)


@dataclass(frozen=True)
class StructureRules:
    """The parameters the base year's structure (:func:`base_year_structure`) reads, and only
    those: with the figures it reads they are its cache key, so a parameter draw that changes
    none of them reuses the structure."""

    industry_output: tuple[tuple[str, float], ...]
    unclassed_fraction: float
    services_top_class_factor: float
    above_scale_threshold: float
    land_headroom: float
    va_ratio: float | None
    nonsei_va_ratio: float | None

    @classmethod
    def of(cls, params: ModelParams) -> StructureRules:
        a = params.allocation
        return cls(tuple(a.industry_output.items()), a.unclassed_fraction,
                   a.services_top_class_factor, params.firms.above_scale_threshold,
                   params.parks.land_headroom, params.economy.va_ratio,
                   params.economy.nonsei_va_ratio)


@dataclass(frozen=True)
class BaseYearStructure:
    """How big the base year's industry is and how its SEI output splits over industries, parks
    and their cells: the expensive, draw-independent part of a baseline."""

    sizing: Sizing
    share: float                   # SEI share of industrial output, %
    va_ratio: float | None         # fixed here only when sized on value added
    nonsei_va_ratio: float | None
    published_total: float
    industries: list[str]
    industry_output: np.ndarray
    industrial_total: float
    services: list[str]
    services_output: np.ndarray
    nonsei: float
    parks: list[str]
    park_output: np.ndarray
    cell: np.ndarray
    allowed: np.ndarray
    land: np.ndarray
    notes: tuple[str, ...]


#: Indicators the structure reads (sizing forms, derived SEI output, industry lines and size
#: classes, park lines and targets); a plan sized on value added adds its SEI value added.
STRUCTURE_INDICATORS = frozenset({ind for form in SIZING_FORMS for ind in form}
                                 | {"sei_output_growth", "cluster_class"})
#: At most 32 entries each: a worker receives its own copy of the plan with every chunk, so each
#: chunk adds entries that hold that copy (about 0.2 MB) alive.
_QUALIFIED = IdentityCache(32)
_STRUCTURE_PLANS = IdentityCache(32)
_STRUCTURES = IdentityCache(32)


def base_year_structure(plan: Plan, factors: dict[str, float], year: int,
                        rules: StructureRules) -> BaseYearStructure | None:
    """The structure of ``plan``'s base ``year`` with its qualified figures multiplied by
    ``factors`` (None when no figures size that year), computed once per distinct input.

    A Monte Carlo run compiles a baseline per parameter draw, but draws rarely touch what sizes
    and splits the industry (Chongqing's drawn figures are its firm count, value added and fund
    amounts). The structure is therefore computed from a copy of the plan holding only the
    figures of :data:`STRUCTURE_INDICATORS` and from :class:`StructureRules` alone: its result
    can depend on nothing else, so those figures' factors and the rules are a complete key. A
    sizing figure may also come from the region's statistics file, which a user may edit during
    a session: the statistics as loaded now (a new object once the file changes) are part of the
    key too."""
    sources = (plan, load_statistics(plan.region, plan.file))
    found = _STRUCTURE_PLANS.get(sources, year)
    if found is MISSING:
        sizing = find_sizing(plan, year)
        indicators = STRUCTURE_INDICATORS | (
            {"sei_value_added"} if sizing is not None and sizing.form[0] != "sei_output" else set())
        figures = tuple(f for f in plan.figures if f.indicator in indicators)
        found = _STRUCTURE_PLANS.put(sources, year, (plan.model_copy(update={"figures": figures}),
                                                     {f.id for f in figures}))
    part, ids = found
    drawn = tuple((k, v) for k, v in factors.items() if k in ids)
    structure = _STRUCTURES.get(sources, (year, drawn, rules))
    if structure is MISSING:
        structure = _STRUCTURES.put(sources, (year, drawn, rules),
                                    _structure(part.with_factors(dict(drawn)), year, rules))
    return structure


def _structure(plan: Plan, year: int, rules: StructureRules) -> BaseYearStructure | None:
    """:func:`base_year_structure`, computed."""
    notes: list[str] = []
    sizing = find_sizing(plan, year)
    if sizing is None:
        return None
    notes.append(f"base year {year} sized by {sizing.describe()}")
    if plan.non_sei_industries:
        notes.append("industries the plan does not count as SEI are part of the rest of "
                     "industry: " + ", ".join(i.id for i in plan.non_sei_industries))

    va_ratio = nonsei_va_ratio = None
    size, part = sizing.values
    if not size > 0 or (sizing.form[1] != "industrial_output" and not 0 < part < 100) or \
            (sizing.form[1] == "industrial_output" and not part > size):
        raise InputError(f"base year {year}: {sizing.form[0]} {size:g} and {sizing.form[1]} "
                         f"{part:g} cannot size an industry (amounts must be positive, shares "
                         "strictly between 0 and 100, the total above its SEI part)",
                         file=plan.file)
    if sizing.form[0] == "sei_output":
        total_printed = sizing.values[0]
        if sizing.form[1] == "sei_output_share":
            share = sizing.values[1]
        else:
            share = 100 * total_printed / sizing.values[1]
        published_total = total_printed / (share / 100)
        services_lines = sum(f.canonical_value for s in plan.service_industries
                             for f in plan.find("sei_output", scope=f"industry:{s.id}", year=year))
        industrial_guess = total_printed - services_lines
    else:
        # Sized on value added: output follows from value-added ratios (ODD 7.17).
        industry_va, share_va = sizing.values
        va_ratio = rules.va_ratio or _sei_va_ratio_from_plan(plan, year, notes)
        nonsei_va_ratio = rules.nonsei_va_ratio or LITERATURE_NONSEI_VA_RATIO
        sei_va = industry_va * share_va / 100
        industrial_guess = total_printed = sei_va / va_ratio
        services_lines = 0.0
        published_total = industrial_guess + (industry_va - sei_va) / nonsei_va_ratio
        share = 100 * industrial_guess / published_total
        notes.append(f"industry sized on value added {industry_va:g} with an SEI share of "
                     f"{share_va:.2f}%: SEI output {industrial_guess:.1f} at VA ratio "
                     f"{va_ratio:g}, the rest {published_total - industrial_guess:.1f} at "
                     f"{nonsei_va_ratio:g}" + (" (all industry, above-scale and below)"
                                               if sizing.coverage == "all" else ""))
    if not plan.industrial_industries:
        raise InputError(f"plan {plan.region} ({plan.version}) flags no industrial industry as "
                         "SEI (sei: true): there are no firms to simulate", file=plan.file)
    at = year if rules.industry_output else split_year(plan, year)
    if at == year:
        ind_split, srv_split = industry_split(plan, year, industrial_guess, rules, notes)
    else:
        other_total = region_output(plan, at, notes) - sum(
            f.canonical_value for s in plan.service_industries
            for f in plan.find("sei_output", scope=f"industry:{s.id}", year=at))
        ind_split, srv_split = industry_split(plan, at, other_total, rules, notes)
        scale = industrial_guess / other_total
        ind_split = {k: v * scale for k, v in ind_split.items()}
        srv_split = {k: v * scale for k, v in srv_split.items()}
        notes.append(f"industry split of {at} applied to {year}, scaled by output ratio "
                     f"{scale:.3f}")
    industries = [i for i in ind_split]
    industry_output = np.array([ind_split[i] for i in industries])
    industrial_total = float(industry_output.sum())
    gap = abs(industrial_total - industrial_guess) / max(1.0, industrial_guess)
    if 1e-9 < gap <= LINE_ROUNDING:
        # Rounded lines against a printed total: the total is the figure the share refers to.
        notes.append(f"industry lines (sum {industrial_total:.2f}) scaled to the printed total "
                     f"less services lines {industrial_guess:.2f}: the lines are rounded")
        industry_output *= industrial_guess / industrial_total
        industrial_total = float(industry_output.sum())
    elif gap > LINE_ROUNDING:
        notes.append(f"industrial SEI output = sum of industry lines {industrial_total:.2f}; the "
                     f"printed total less services lines is {industrial_guess:.2f}")
    if services_lines:
        notes.append(f"services lines ({services_lines:g}) inside the printed total "
                     f"{total_printed:g} are kept out of industrial SEI output")
    services = list(srv_split)
    services_output = np.array([srv_split[s] for s in services])
    nonsei = published_total - industrial_total
    if nonsei <= 0:
        raise InputError(f"base year {year}: SEI output {industrial_total:g} exceeds the total "
                         f"industrial output implied by the share {share:g}%", file=plan.file)

    parks, park_output, allowed = _parks(plan, year, industries, industry_output, notes)
    cell = ipf(industry_output, park_output, allowed.T).T  # (P, J)
    _merge_subthreshold_cells(cell, rules.above_scale_threshold, parks, industries, notes)
    park_output = cell.sum(axis=1)
    land = _park_land(plan, parks, park_output, rules.land_headroom)
    return BaseYearStructure(
        sizing, share, va_ratio, nonsei_va_ratio, published_total, industries, industry_output,
        industrial_total, services, services_output, nonsei, parks, park_output, cell, allowed,
        land, tuple(notes))


def build_baseline(plan: Plan, params: ModelParams, year: int | None = None) -> Baseline:
    """Aggregate base-year state of ``plan`` under ``params`` (see the module docstring)."""
    factors = params.allocation.figure_factors
    drawn = plan.with_factors(factors)
    year = default_base_year(drawn) if year is None else int(year)
    structure = base_year_structure(plan, factors, year, StructureRules.of(params))
    if structure is None:
        starts = sorted({y for y in drawn.baseline_years if find_sizing(drawn, y) is not None})
        raise InputError(f"no figures size the industry in base year {year} in {plan.region} "
                         f"({plan.version}); years a run can start from: "
                         f"{', '.join(map(str, starts)) or 'none'} (seisim plan check "
                         f"{plan.region})", file=plan.file, path=("horizon", "start"))
    plan = drawn
    notes = list(structure.notes)
    reader = _Reader(plan, year, notes)
    sizing, share, va_ratio, nonsei_va_ratio = (structure.sizing, structure.share,
                                                structure.va_ratio, structure.nonsei_va_ratio)
    industries, services, parks = (list(structure.industries), list(structure.services),
                                   list(structure.parks))
    # Copies: the structure is shared by every draw that leaves it unchanged.
    industry_output, services_output = (structure.industry_output.copy(),
                                        structure.services_output.copy())
    park_output, cell, allowed, land = (structure.park_output.copy(), structure.cell.copy(),
                                        structure.allowed.copy(), structure.land.copy())
    industrial_total, nonsei = structure.industrial_total, structure.nonsei
    published_total = structure.published_total

    # Firm counts.
    f = reader.exact("sei_firm_count") or reader.nearest("sei_firm_count")
    if f is None:
        n_firms = max(len(industries), int(round(industrial_total / 10.0)))
        notes.append(f"no above-scale firm count: assumed mean firm output 10 亿元 -> {n_firms}")
    else:
        n_firms = f.canonical_value
        if f.year != year:
            ratio = industrial_total / _industrial_output_in(plan, f.year, industrial_total, year)
            n_firms *= ratio
            notes.append(f"above-scale firm count scaled from {f.year} by output ratio "
                         f"{ratio:.3f}")
        n_firms = int(round(n_firms))
    big_threshold, big_firms = None, 0
    bigs = [g for g in plan.find("firm_count_over", role="baseline", year=year)]
    if bigs:
        g = max(bigs, key=lambda g: g.threshold)
        big_threshold, big_firms = float(g.threshold), int(round(g.canonical_value))

    # Value added and GDP.
    total_sei = industrial_total + float(services_output.sum())
    va_ratio, nonsei_va_ratio, gdp = _value_added_and_gdp(
        plan, year, total_sei, industrial_total, nonsei, params, notes,
        sized=(va_ratio, nonsei_va_ratio) if va_ratio is not None else None)

    # Talent.
    t = reader.exact("rd_personnel") or reader.nearest("rd_personnel")
    share_rd = params.talent.sei_share_of_rd_personnel
    if t is not None:
        if share_rd is None:  # the SEI share in the figure's own year
            share_rd = (plan.value("sei_output_share", year=t.year) or share) / 100
        talent = t.canonical_value * share_rd
        if t.year != year:
            talent *= industrial_total / _industrial_output_in(plan, t.year, industrial_total, year)
            notes.append(f"R&D personnel scaled from {t.year}")
    else:
        talent = params.talent.persons_per_output * industrial_total
        notes.append(f"no R&D personnel figure: talent stock = "
                     f"{params.talent.persons_per_output:g} persons per 亿元 of SEI output")

    rd = reader.exact("industrial_rd_intensity") or reader.nearest("industrial_rd_intensity")
    rd_mean = params.firms.rd_mean or (rd.canonical_value / 100 if rd else DEFAULT_RD_INTENSITY)

    nonsei_growth = params.economy.nonsei_growth
    if nonsei_growth is None:
        nonsei_growth = _historical_nonsei_growth(plan, year, notes,
                                                  params.economy.coverage_drift)

    funds = _funds(plan, params, notes)
    weights = industry_output / industrial_total
    floor = params.allocation.attraction_floor
    attraction = np.maximum(weights, floor)
    attraction /= attraction.sum()

    return Baseline(
        region=plan.region, version=plan.version, year=year, industries=industries,
        services=services, parks=parks, industry_output=industry_output, park_output=park_output,
        cell_output=cell, cell_allowed=allowed, park_land=land, services_output=services_output,
        above_scale_firms=n_firms, big_firm_threshold=big_threshold, big_firms=big_firms,
        nonsei_output=nonsei, published_total_output=published_total, gdp=gdp, va_ratio=va_ratio,
        industry_coverage=sizing.coverage,
        nonsei_va_ratio=nonsei_va_ratio,
        talent=talent, rd_mean=rd_mean, nonsei_growth=nonsei_growth, funds=funds,
        attraction_weights=attraction, fund_weights=weights.copy(), notes=notes,
        non_sei_industries=[i.id for i in plan.non_sei_industries])


def _sei_va_ratio_from_plan(plan: Plan, year: int, notes: list[str],
                           total_sei: float | None = None) -> float:
    """SEI value added per unit of SEI output: from the plan's SEI value added and output (nearest
    year) when both are known, else :data:`DEFAULT_SEI_VA_RATIO` (noted as assumed)."""
    va_figs = sorted(plan.find("sei_value_added", role="baseline"),
                     key=lambda f: (abs(f.year - year), -f.year))
    if va_figs and total_sei:
        f = va_figs[0]
        ratio = f.canonical_value / (total_sei * _output_ratio(plan, f.year, year))
        if f.year != year:
            notes.append(f"SEI value-added ratio taken from {f.year}: {ratio:.3f}")
        return ratio
    notes.append(f"no SEI value added with SEI output in the plan: assumed VA ratio "
                 f"{DEFAULT_SEI_VA_RATIO:g}")
    return DEFAULT_SEI_VA_RATIO


def _value_added_and_gdp(plan: Plan, year: int, total_sei: float, industrial_total: float,
                         nonsei: float, params: ModelParams, notes: list[str],
                         sized: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """VA per unit of SEI and of non-SEI output and base-year GDP, from the plan and the
    statistics where they say, else documented fallbacks (nearest year with growth, parameter
    set, industry share of GDP). ``sized``: ratios already fixed by a value-added sizing."""
    econ = params.economy
    if sized is not None:
        va_ratio, nonsei_ratio = sized
    else:
        va_ratio = econ.va_ratio or _sei_va_ratio_from_plan(plan, year, notes, total_sei)
        nonsei_ratio = _nonsei_va_ratio(plan, year, va_ratio * industrial_total, nonsei, params,
                                        notes)
    if econ.gdp is not None:
        at = econ.gdp_year or year
        gdp = econ.gdp * (1 + econ.gdp_growth) ** (year - at)
        notes.append(f"GDP {econ.gdp:g} ({at}) from the parameters"
                     + (f", projected to {year} at {econ.gdp_growth:g}/yr: {gdp:.0f}"
                        if at != year else ""))
        return va_ratio, nonsei_ratio, gdp
    published = base_figure(plan, "gdp", year)
    if published is not None:
        notes.append(f"GDP {year} {published[0]:g} ({published[1]})")
        return va_ratio, nonsei_ratio, published[0]
    implied = _gdp_implied_by_shares(plan)
    if implied is not None:
        gdp, at, how = implied
        if at != year:
            gdp *= (1 + econ.gdp_growth) ** (year - at)
            how += f", projected to {year} at {econ.gdp_growth:g}/yr"
        notes.append(f"GDP {year} {gdp:.0f} implied by {how}")
        return va_ratio, nonsei_ratio, gdp
    industrial_va = va_ratio * industrial_total + nonsei_ratio * nonsei
    gdp = industrial_va / params.allocation.gdp_industry_share
    notes.append(f"no GDP share in the plan: GDP inferred as industrial value added / "
                 f"{params.allocation.gdp_industry_share:g} = {gdp:.0f}")
    return va_ratio, nonsei_ratio, gdp


def _gdp_implied_by_shares(plan: Plan) -> tuple[float, int, str] | None:
    """GDP from an amount and its share of GDP printed for the same year (the registry's share
    definitions), nearest the latest baseline year: (gdp, year, description)."""
    found = []
    for share_id, ind in INDICATORS.items():
        if ind.share_of is None or ind.share_of[1] != "gdp":
            continue
        for share in plan.find(share_id, role="baseline"):
            amounts = plan.find(ind.share_of[0], year=share.year, role="baseline")
            if amounts and share.canonical_value > 0:
                found.append((amounts[0].canonical_value / (share.canonical_value / 100),
                              share.year, f"{ind.share_of[0]} {amounts[0].canonical_value:g} at "
                              f"{share.canonical_value:g}% of GDP in {share.year}"))
    return max(found, key=lambda t: t[1]) if found else None


#: Value added / gross output of Chinese industry (NBS input-output tables), where nothing better.
LITERATURE_NONSEI_VA_RATIO = 0.25


def _nonsei_va_ratio(plan: Plan, year: int, sei_industrial_va: float, nonsei: float,
                     params: ModelParams, notes: list[str]) -> float:
    """Value added per unit of non-SEI output: the parameter when set; else the ratio at which
    the base year's SEI share of industrial value added is the published one (so the model starts
    where the statistics are); else the literature value."""
    if params.economy.nonsei_va_ratio is not None:
        return params.economy.nonsei_va_ratio
    found = published_statistic(plan, "sei_share_of_industrial_value_added", year)
    if found is not None:
        share = found.value / 100
        ratio = sei_industrial_va * (1 - share) / share / nonsei
        if 0.1 <= ratio <= 0.5:
            notes.append(f"non-SEI value-added ratio {ratio:.3f}: the base year's published SEI "
                         f"share of industrial value added {found.value:g}% ({found.source})")
            return ratio
        notes.append(f"the published SEI share of industrial value added {found.value:g}% "
                     f"implies a non-SEI value-added ratio of {ratio:.3f}, outside 0.1-0.5: "
                     f"literature value {LITERATURE_NONSEI_VA_RATIO:g} used")
    return LITERATURE_NONSEI_VA_RATIO


def _printed_output(plan: Plan, year: int) -> float | None:
    """Region SEI output in ``year`` as printed or derived from next year's growth, else None."""
    try:
        return region_output(plan, year, [])
    except InputError:
        return None


def _output_ratio(plan: Plan, other_year: int, year: int) -> float:
    """SEI output in ``other_year`` relative to ``year`` (1 if either is unknown)."""
    a, b = _printed_output(plan, other_year), _printed_output(plan, year)
    return a / b if a is not None and b is not None else 1.0


def _industrial_output_in(plan: Plan, other_year: int, industrial_total: float, year: int) -> float:
    """Industrial SEI output in ``other_year``, by the ratio of region totals."""
    return industrial_total * _output_ratio(plan, other_year, year)


def _parks(plan: Plan, year: int, industries: list[str], industry_output: np.ndarray,
           notes: list[str]):
    industrial_total = float(industry_output.sum())
    figures = {p.id: plan.value("sei_output", scope=f"park:{p.id}", year=year) for p in plan.parks}
    with_output = [p for p in plan.parks if figures[p.id] is not None]
    if not with_output:
        if plan.parks:
            notes.append("no park output figures for the base year: all firms in one region-wide "
                         "pseudo park (plan parks kept for reference only)")
        return [REGION_PARK], np.array([industrial_total]), np.ones((1, len(industries)), bool)
    parks = [p.id for p in with_output]
    outputs = np.array([figures[p] for p in parks])
    allowed = np.array([[ind in p.industries for ind in industries] for p in with_output])
    total = outputs.sum()
    if total > industrial_total:
        scale = industrial_total / total
        outputs = outputs * scale
        notes.append(f"park outputs sum to {total:.2f} > industrial SEI output "
                     f"{industrial_total:.2f}: parks scaled by {scale:.4f}")
    uncovered = ~allowed.any(axis=0) & (industry_output > 0)
    gap = industrial_total - outputs.sum()
    if gap > 1e-9 * industrial_total or uncovered.any():
        parks.append(OTHER_PARK)
        outputs = np.append(outputs, max(gap, 0.0))
        allowed = np.vstack([allowed, np.ones(len(industries), bool)])
        notes.append(f"pseudo park '{OTHER_PARK}' holds {max(gap, 0):.2f} 亿元 of SEI output "
                     "outside the named parks")
    return parks, outputs, allowed


def _park_land(plan: Plan, parks: list[str], park_output: np.ndarray,
               land_headroom: float) -> np.ndarray:
    land = np.empty(len(parks))
    for k, park in enumerate(parks):
        targets = plan.find("sei_output", scope=f"park:{park}", role="target")
        if park == REGION_PARK:  # a plan without parks: land is not what limits entry
            land[k] = UNLIMITED_LAND
        elif targets:
            land[k] = land_headroom * max(f.canonical_value for f in targets)
        else:
            land[k] = land_headroom * 2 * park_output[k]
    return land


def _merge_subthreshold_cells(cell: np.ndarray, threshold: float, parks: list[str],
                              industries: list[str], notes: list[str]) -> None:
    """A park-industry cell with less output than one above-scale firm cannot be populated by
    firms the statistics count; its output joins the industry's largest cell (industry totals stay
    exact, park totals move by less than the threshold each)."""
    moved = []
    for p, j in zip(*np.nonzero((cell > 0) & (cell < threshold))):
        target = int(np.argmax(cell[:, j]))
        if target != p and cell[target, j] >= threshold:
            cell[target, j] += cell[p, j]
            moved.append(f"{parks[p]}/{industries[j]} {cell[p, j]:.3f}")
            cell[p, j] = 0.0
    if moved:
        notes.append(f"cells below one above-scale firm ({threshold:g} 亿元) joined their "
                     f"industry's largest cell: {', '.join(moved)}")


def _historical_nonsei_growth(plan: Plan, year: int, notes: list[str],
                              coverage_drift: float = 0.0) -> float:
    """Comparable-sample growth of non-SEI output implied by the plan's level figures: the level
    growth less the statistical coverage drift (ODD 7.17)."""
    years = sorted({f.year for f in plan.find("sei_output", role="baseline")}
                   & {f.year for f in plan.find("sei_output_share", role="baseline")})
    years = [y for y in years if y <= year]
    if len(years) >= 2 and years[-1] - years[0] >= MIN_HISTORY_YEARS:
        y0, y1 = years[0], years[-1]
        x0 = plan.value("sei_output", year=y0) * (100 / plan.value("sei_output_share", year=y0) - 1)
        x1 = plan.value("sei_output", year=y1) * (100 / plan.value("sei_output_share", year=y1) - 1)
        g = (x1 / x0) ** (1 / (y1 - y0)) - 1 - coverage_drift
        notes.append(f"non-SEI industrial output growth {100 * g:.2f}%/yr from the plan's "
                     f"{y0}-{y1} output and share figures"
                     + (f" less coverage drift {coverage_drift:g}" if coverage_drift else ""))
        return g
    notes.append(f"non-SEI industrial output growth: default {100 * DEFAULT_NONSEI_GROWTH:g}%/yr "
                 "(the plan gives no usable history)")
    return DEFAULT_NONSEI_GROWTH


def _funds(plan: Plan, params: ModelParams, notes: list[str]) -> list[FundBaseline]:
    """The region's funds (ODD 7.9): from the plan's invested amounts, else one fund declared by
    the scenario with its source, else none: the model never invents a fund."""
    fp = params.funds
    funds = []
    for f in plan.find("fund_invested", scope=None, role="baseline"):
        fund_id = f.scope_id or "region_funds"
        years = (f.period[1] - f.period[0] + 1) if f.period else DEFAULT_FUND_PERIOD_YEARS
        annual = fp.annual_investment or f.canonical_value / years
        co = plan.find("fund_co_investment", scope=f.scope, year=f.year)
        notes.append(f"fund '{fund_id}': {f.canonical_value:g} 亿元 invested"
                     + (f" over {years} years" if f.period else
                        f", read as a {DEFAULT_FUND_PERIOD_YEARS}-year total")
                     + f" -> {annual:.1f} 亿元/yr; leverage {fp.leverage:g} (literature)"
                     + (f"; the plan's {co[0].canonical_value:g} 亿元 of projects is not used "
                        "as leverage (both figures are lower bounds)" if co else ""))
        funds.append(FundBaseline(fund_id, annual, fp.leverage, plan.source_of(f), actual=True))
    if funds:
        return funds
    if fp.annual_investment is None:
        named = f" (it names {', '.join(f.id for f in plan.funds)})" if plan.funds else ""
        notes.append(f"no fund figure in the plan{named}: the model has no fund; a scenario can "
                     "declare one with params funds.annual_investment and funds.source")
        return []
    if not fp.source:
        raise InputError("funds.annual_investment is set but funds.source is not: say where the "
                         "fund size comes from", key="params.funds.source",
                         path=("params", "funds", "source"))
    fund_id = plan.funds[0].id if plan.funds else "declared_fund"
    notes.append(f"fund '{fund_id}' declared: {fp.annual_investment:g} 亿元/yr announced, "
                 f"{fp.raised_fraction:g} of it raised ({fp.source}); leverage {fp.leverage:g}")
    return [FundBaseline(fund_id, fp.annual_investment, fp.leverage, fp.source, actual=False)]
