"""The numeric form of one model configuration, shared by both engines.

:func:`compile_inputs` turns (plan, parameters, levers, horizon) into flat arrays: a vector of
scalars indexed by :class:`S`, per-industry, per-park and per-fund arrays, and the schedule of growth
shifts. Both engines read exactly these arrays and draw random numbers in the same order from the
same streams (:func:`random_streams`), which is what makes their trajectories identical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import sim.portable as portable
from sim.errors import InputError, nearest
from sim.model.baseline import Baseline, build_baseline
from sim.model.levers import Levers
from sim.model.params import ModelParams
from sim.plans.schema import Plan

#: Random streams of one replication, in spawn order. Separate streams keep one mechanism's draws
#: from shifting another's when a lever changes how many draws it makes: the macro path and the
#: initial population are shared exactly between scenarios; firm-level draws stay aligned until
#: the scenarios' firm populations diverge (common random numbers, per mechanism).
STREAMS = ("population", "macro", "growth", "exit", "fund", "entry", "agents", "prices")
BIG_THRESHOLDS = (10.0, 100.0)  # 亿元: the plans' 超10亿 and 百亿级 firm classes


@dataclass
class ModelInputs:
    """Everything an engine needs except the random streams."""

    plan: Plan
    params: ModelParams
    levers: Levers
    baseline: Baseline
    start_year: int
    end_year: int
    steps_per_year: int
    scalars: dict[str, float]    # named scalar parameters (engines pack them)
    mu: np.ndarray               # (n_steps, J) drift by step and industry (7.16)
    cell_allowed: np.ndarray     # (P, J) uint8
    land: np.ndarray             # (P,)
    attraction_cum: np.ndarray   # (J,) cumulative weights
    fund_inflow: np.ndarray      # (F,) 亿元 per year
    fund_leverage: np.ndarray    # (F,)
    fund_alloc_cum: np.ndarray   # (F, J) cumulative weights
    fund_max_deals: np.ndarray   # (F,) int: deals a fund can close per step (deployment capacity)
    services0: np.ndarray        # (NS,)
    drift_shift: np.ndarray      # (n_steps,)

    @property
    def n_years(self) -> int:
        return self.end_year - self.start_year

    @property
    def n_steps(self) -> int:
        return self.n_years * self.steps_per_year

    @property
    def years(self) -> np.ndarray:
        return np.arange(self.start_year, self.end_year + 1)

    def capacity(self, n_initial: int) -> int:
        """Firm slots to allocate: initial firms plus a generous bound on entries."""
        s = self.scalars
        cells = int(self.cell_allowed.sum())
        per_year = (s["startup_rate"] * n_initial * 2 + s["startup_floor"] * cells
                    + s["attract_rate"])
        return int(min(n_initial + 3 * per_year * self.n_years + 200, MAX_FIRM_SLOTS))


#: Upper bound on firm slots per replication (about 100 MB of state): entry rates pushed to absurd
#: values cannot allocate unbounded memory; entries beyond it are counted as dropped.
MAX_FIRM_SLOTS = 1_000_000


def _cumulative(weights: np.ndarray) -> np.ndarray:
    total = weights.sum()
    return np.cumsum(weights) / total if total > 0 else np.zeros_like(weights)


def _weights_by_industry(mapping: dict[str, float], industries: list[str], what: str) -> np.ndarray:
    unknown = [k for k in mapping if k not in industries]
    if unknown:
        raise InputError(f"unknown industry '{unknown[0]}'{nearest(unknown[0], industries)}",
                         key=what, path=tuple(what.split(".")) + (unknown[0],))
    return np.array([float(mapping.get(i, 0.0)) for i in industries])


def drift_path(drift: np.ndarray, rest_growth: float, structure, n_steps: int,
               dt: float, start_year: int) -> np.ndarray:
    """SEI firms' drift in each step (rows) and industry (columns): constant under ``persist``;
    under ``converge`` the premium over the rest of industry's growth halves every ``half_life``
    years from ``structure.since`` (default: the base year) (ODD 7.16)."""
    if structure.variant == "pooled":
        raise InputError("structure.variant 'pooled' is drawn per Monte Carlo replication; a single "
                         "run needs 'persist' or 'converge'", key="params.structure.variant",
                         path=("params", "structure", "variant"))
    if structure.variant == "persist":
        return np.tile(drift, (n_steps, 1))
    since = start_year if structure.since is None else structure.since
    t = np.maximum(start_year - since + np.arange(n_steps) * dt, 0.0)
    fade = portable.power(0.5, t / structure.half_life)
    return rest_growth + np.outer(fade, drift - rest_growth)


def compile_inputs(plan: Plan, params: ModelParams | None = None, levers: Levers | None = None,
                   *, start_year: int | None = None, end_year: int | None = None) -> ModelInputs:
    """Numeric inputs for ``plan`` (base year ``start_year``) run to ``end_year``.

    ``end_year`` defaults to the plan's last target year.
    """
    params = params or ModelParams()
    levers = levers or Levers()
    baseline = build_baseline(plan, params, start_year)
    start = baseline.year
    end = int(end_year) if end_year is not None else max(plan.target_years or [start + 5])
    if end <= start:
        raise InputError(f"end year {end} must be after the base year {start}",
                         key="horizon.end", path=("horizon", "end"))
    spy = params.steps_per_year
    dt = 1.0 / spy
    fp, sp, ep, tp, fup, ec = (params.firms, params.shocks, params.entry_exit, params.talent,
                               params.funds, params.economy)
    industries = baseline.industries
    s: dict[str, float] = {}
    # Scalars through ``math`` and arrays through :mod:`sim.portable`: the same bits on any CPU.
    s["dt"], s["sqrt_dt"] = dt, math.sqrt(dt)
    s["thr"], s["log_thr"] = fp.above_scale_threshold, math.log(fp.above_scale_threshold)
    s["sigma0"], s["log_sigma_ref"] = fp.sigma, math.log(fp.sigma_ref_size)
    s["sigma_elast"], s["sigma_max"] = fp.sigma_size_elasticity, fp.sigma_max
    s["rd_mean"], s["rd_log_sd"], s["rd_effect"] = baseline.rd_mean, fp.rd_log_sd, fp.rd_growth_effect
    s["rd_mult"] = levers.rd_policy
    s["macro_sigma"], s["macro_rho"] = sp.macro_sigma, sp.macro_persistence ** dt
    s["ind_sigma"], s["ind_rho"] = sp.industry_sigma, sp.industry_persistence ** dt
    s["startup_rate"], s["startup_floor"] = ep.startup_rate, ep.startup_floor
    s["log_startup_size"], s["startup_log_sd"] = math.log(ep.startup_size), ep.startup_log_sd
    s["attract_rate"] = ep.attraction_rate * baseline.above_scale_firms * levers.attraction
    s["attract_size"], s["attract_alpha"] = ep.attraction_size, ep.attraction_alpha
    s["attract_cap"] = 0.1 * baseline.sei_industrial_output
    s["exit_h0"], s["exit_gamma"] = ep.exit_hazard, ep.exit_size_elasticity
    growth = tp.supply_growth if levers.talent.supply_growth is None else levers.talent.supply_growth
    s["talent0"] = baseline.talent
    s["talent_inflow0"] = (tp.supply_growth + tp.attrition) * baseline.talent * levers.talent.supply
    s["talent_growth"], s["talent_attrition"] = growth, tp.attrition
    s["prod_growth"], s["shortage_penalty"] = tp.productivity_growth, tp.shortage_penalty
    s["ticket"], s["kappa"] = fup.ticket, fup.output_per_investment
    s["lag_steps"] = round(fup.deployment_lag * spy)
    s["hold_steps"] = max(1, round(fup.holding_period * spy))
    s["exit_mult"], s["recycle"], s["select_exp"] = fup.exit_multiple, float(fup.recycle), \
        fup.selection_exponent
    s["additionality"], s["failure"] = fup.additionality, fup.project_failure
    s["nonsei0"], s["nonsei_g"], s["nonsei_sigma"] = (baseline.nonsei_output,
                                                      baseline.nonsei_growth, ec.nonsei_sigma)
    s["serv_g"], s["serv_sigma"] = ec.services_growth, ec.services_sigma
    # GDP = SEI value added + non-SEI industrial value added + the rest of the economy (services
    # outside SEI, agriculture, construction): the rest is what the base-year GDP leaves.
    sei_va = baseline.va_ratio * (baseline.sei_industrial_output + baseline.services_output.sum())
    nonsei_va = baseline.nonsei_va_ratio * baseline.nonsei_output
    s["gdp_rest0"] = baseline.gdp - sei_va - nonsei_va
    if s["gdp_rest0"] <= 0:
        raise InputError(f"GDP {baseline.gdp:g} is below industrial value added "
                         f"{sei_va + nonsei_va:g} (SEI {sei_va:g}, other industry {nonsei_va:g})")
    s["gdp_g"], s["gdp_sigma"] = ec.gdp_growth, ec.gdp_sigma
    s["va_ratio"], s["nonsei_va"] = baseline.va_ratio, baseline.nonsei_va_ratio
    s["big1"], s["big2"] = BIG_THRESHOLDS
    s["agg_alpha"] = fp.agglomeration

    drift = np.full(len(industries), fp.drift)
    drift += _weights_by_industry(fp.industry_drift, industries, "params.firms.industry_drift")
    mu = drift_path(drift, baseline.nonsei_growth, params.structure, (end - start) * spy, dt,
                    start)

    land = baseline.park_land.copy()
    expansion = dict(levers.parks.expansion)
    everywhere = expansion.pop("all", 0.0)
    unknown = [k for k in expansion if k not in baseline.parks]
    if unknown:
        raise InputError(f"unknown park '{unknown[0]}'{nearest(unknown[0], baseline.parks)}; "
                         f"model parks: {', '.join(baseline.parks)}",
                         key="levers.parks.expansion",
                         path=("levers", "parks", "expansion", unknown[0]))
    for k, park in enumerate(baseline.parks):
        land[k] *= 1.0 + everywhere + expansion.get(park, 0.0)

    alloc = (baseline.fund_weights if levers.fund.allocation is None else
             _weights_by_industry(levers.fund.allocation, industries, "levers.fund.allocation"))
    funds = baseline.funds
    if not funds and (levers.fund.scale != 1.0 or levers.fund.leverage is not None
                      or levers.fund.allocation is not None):
        raise InputError(f"the model of {baseline.region} has no fund to change: the plan gives "
                         "no fund figure; declare one with params funds.annual_investment and "
                         "funds.source", key="levers.fund", path=("levers", "fund"))
    fund_inflow = np.array([fund_inflow_per_year(f, levers.fund.scale, fup.raised_fraction)
                            for f in funds])
    fund_leverage = np.array([f.leverage if levers.fund.leverage is None else levers.fund.leverage
                              for f in funds])
    fund_alloc_cum = np.tile(_cumulative(alloc), (len(funds), 1))  # every fund: one allocation
    # Deployment capacity: a fund team closes at most this many deals a step, whatever its cash.
    fund_max_deals = np.array([
        max(1, math.ceil(fup.deployment_capacity * f.annual_investment * dt / fup.ticket))
        for f in funds], dtype=np.int64)

    n_steps = (end - start) * spy
    shift = np.zeros(n_steps)
    for shock in levers.shocks:
        for k in range(n_steps):
            year = start + k // spy + 1  # the calendar year step k belongs to
            if shock.start <= year <= shock.end:
                if shock.sei_only:
                    mu[k, :] += shock.growth_shift
                else:
                    shift[k] += shock.growth_shift
    return ModelInputs(
        plan=plan, params=params, levers=levers, baseline=baseline, start_year=start,
        end_year=end, steps_per_year=spy, scalars=s, mu=mu,
        cell_allowed=baseline.cell_allowed.astype(np.uint8), land=land,
        attraction_cum=_cumulative(baseline.attraction_weights), fund_inflow=fund_inflow,
        fund_leverage=fund_leverage, fund_alloc_cum=fund_alloc_cum, fund_max_deals=fund_max_deals,
        services0=baseline.services_output.copy(), drift_shift=shift)


def fund_inflow_per_year(fund, scale: float, raised_fraction: float) -> float:
    """Money a fund invests per year (ODD 7.9): an amount actually invested in the past continues
    at its pace; a fund size that is only announced (declared in a scenario) and any increase
    over the past pace (``scale`` > 1) are raised only in part (``raised_fraction``); a cut
    (``scale`` < 1) is taken in full."""
    base = fund.annual_investment * (1.0 if fund.actual else raised_fraction)
    if scale <= 1.0:
        return base * scale
    return base * (1.0 + (scale - 1.0) * raised_fraction)


def random_streams(seed: np.random.SeedSequence | int, names=STREAMS
                   ) -> dict[str, np.random.Generator]:
    """The named random streams of one replication (see :data:`STREAMS`); ``names`` picks some of
    them (each stream is the same whichever others are asked for).

    Spawning mutates a SeedSequence, so we spawn from a copy: the same seed always yields the same
    streams, however often it is used.
    """
    if isinstance(seed, np.random.SeedSequence):
        ss = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key,
                                    pool_size=seed.pool_size)
    else:
        ss = np.random.SeedSequence(seed)
    children = dict(zip(STREAMS, ss.spawn(len(STREAMS))))
    return {name: np.random.default_rng(children[name]) for name in names}
