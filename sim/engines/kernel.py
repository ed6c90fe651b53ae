"""The compiled kernel of the fast engine, and the array layout both engines share.

See ``docs/ODD.md`` for the equations; :mod:`sim.engines.mesa_engine` is the same model written
agent by agent.

It computes exactly what :mod:`sim.engines.mesa_engine` computes (same equations, same order of
random draws from the same streams, same summation order), so the two agree to rounding; the Mesa
engine is the readable reference, this one is the one to use for Monte Carlo. See ``docs/ODD.md``
for the equations. Compiled with ``cache=True``: the first call in a fresh environment compiles
(a few seconds), later processes load the cached machine code.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Order of the scalar parameter vector. The layout lives in this file on purpose: numba's cache
#: is keyed on this file, so a layout change always recompiles the kernel.
SCALARS = (
    "dt", "sqrt_dt", "thr", "log_thr", "sigma0", "log_sigma_ref", "sigma_elast", "sigma_max",
    "rd_mean", "rd_log_sd", "rd_effect", "rd_mult", "macro_sigma", "macro_rho", "ind_sigma",
    "ind_rho", "startup_rate", "startup_floor", "log_startup_size", "startup_log_sd",
    "attract_rate", "attract_size", "attract_alpha", "attract_cap", "exit_h0", "exit_gamma",
    "talent0", "talent_inflow0", "talent_growth", "talent_attrition", "prod_growth",
    "shortage_penalty", "ticket", "kappa", "lag_steps", "hold_steps", "exit_mult", "recycle",
    "select_exp", "additionality", "failure", "nonsei0", "nonsei_g", "nonsei_sigma", "serv_g", "serv_sigma", "gdp_rest0",
    "gdp_g", "gdp_sigma", "va_ratio", "nonsei_va", "big1", "big2", "agg_alpha",
)

#: Columns of the per-year output: flows are yearly totals (output: the year's production);
#: non-SEI output is on the comparable (same-sample) basis of published growth rates, the published
#: level is derived from it (sim.engines.state.derived_columns, ODD 7.17);
#: talent_shortage and macro_shock are yearly averages; stocks and counts are year-end values
#: (firms entering in a year's last step are counted from the next year).
ANNUAL = (
    "sei_industrial_output", "nonsei_output_comparable", "sei_services_output", "gdp_rest",
    "above_scale_firms", "firms_over_10", "firms_over_100", "alive_firms",
    "talent_stock", "talent_demand", "talent_shortage",
    "fund_invested", "co_investment", "fund_cash", "fund_stakes", "fund_exit_proceeds",
    "fund_writeoffs", "fund_projects_failed", "fund_deals_blocked", "entries_startup", "entries_attracted", "entries_blocked",
    "entries_dropped", "exits", "crossings", "macro_shock",
    # Exogenous price levels (yearly averages, base year = 1). No process reads them, so they are
    # drawn after the run by sim.model.prices, identically for both engines; the kernel leaves
    # these columns at zero.
    "industrial_price_level", "gdp_price_level",
)

# Index constants as module globals (numba freezes them into the compiled code). They are made
# from the tuples above so the layout is written once; linters cannot see them, hence F821 off.
# ruff: noqa: F821
for _k, _name in enumerate(SCALARS):
    globals()["S_" + _name.upper()] = _k
for _k, _name in enumerate(ANNUAL):
    globals()["A_" + _name.upper()] = _k
A_INDEX = {name: k for k, name in enumerate(ANNUAL)}

#: Event counts and amounts a step adds to its year's row, in the order both engines tally them
#: (the Mesa engine's ``RegionModel.tally`` has the same keys).
STEP_TALLY = (
    "exits", "crossings", "fund_invested", "co_investment", "fund_exit_proceeds",
    "fund_writeoffs", "fund_projects_failed", "fund_deals_blocked", "entries_startup",
    "entries_attracted", "entries_blocked", "entries_dropped",
)
for _k, _name in enumerate(STEP_TALLY):
    globals()["T_" + _name.upper()] = _k
TALLY_COLUMNS = np.array([A_INDEX[name] for name in STEP_TALLY], np.int64)


def pack_scalars(named: dict[str, float]) -> np.ndarray:
    missing = set(SCALARS) - set(named)
    if missing:
        raise KeyError(f"scalar parameters missing: {sorted(missing)}")
    return np.array([float(named[name]) for name in SCALARS])


@njit(cache=True, error_model="numpy")
def record_row0(s, logy, ind, park, rd, alive, n_used, serv0, ann, ann_ind, ann_park, ann_serv,
                history):
    """Year-0 row: the initial state (the plan's baseline) and the talent normalisation (ODD 5,
    7.12). Mesa: ``RegionModel._record_row0``."""
    demand = 0.0
    for i in range(n_used):
        if alive[i] == 0:
            continue
        y = math.exp(logy[i])
        demand += rd[i] * y
        ann[0, A_ALIVE_FIRMS] += 1
        if logy[i] >= s[S_LOG_THR]:
            ann[0, A_SEI_INDUSTRIAL_OUTPUT] += y
            ann_ind[0, ind[i]] += y
            ann_park[0, park[i]] += y
            ann[0, A_ABOVE_SCALE_FIRMS] += 1
            if y >= s[S_BIG1]:
                ann[0, A_FIRMS_OVER_10] += 1
            if y >= s[S_BIG2]:
                ann[0, A_FIRMS_OVER_100] += 1
        if history.shape[0] > 0:
            history[0, i] = y
    for k in range(serv0.size):
        ann_serv[0, k] = serv0[k]
        ann[0, A_SEI_SERVICES_OUTPUT] += serv0[k]
    ann[0, A_NONSEI_OUTPUT_COMPARABLE] = s[S_NONSEI0]
    ann[0, A_GDP_REST] = s[S_GDP_REST0]
    ann[0, A_TALENT_STOCK] = s[S_TALENT0]
    ann[0, A_TALENT_DEMAND] = s[S_TALENT0] * s[S_RD_MULT]
    return s[S_TALENT0] / demand if demand > 0 else 0.0


@njit(cache=True, error_model="numpy")
def update_shocks(s, macro, zind, e):
    """ODD 7.1: AR(1) macro and industry shocks from the step's macro-stream normals ``e``.
    Mesa: first lines of ``RegionModel.step``."""
    m_rho, m_sd = s[S_MACRO_RHO], s[S_MACRO_SIGMA] * math.sqrt(1 - s[S_MACRO_RHO] ** 2)
    z_rho, z_sd = s[S_IND_RHO], s[S_IND_SIGMA] * math.sqrt(1 - s[S_IND_RHO] ** 2)
    macro = m_rho * macro + m_sd * e[0]
    for j in range(zind.size):
        zind[j] = z_rho * zind[j] + z_sd * e[1 + j]
    return macro


@njit(cache=True, error_model="numpy")
def step_firms(s, k, mu, agg, common, zind, shortage, rd_rel, eps, exit_draw, logy, ind, park,
               rd, age, alive, pipe, pipe_t, stake, stake_t, stake_f, n_used, cash, stakes,
               pending_land, cell_out, cell_n, land_used, ind_out, park_out, elig_list,
               elig_wlist, tally):
    """ODD 7.2-7.7, every live firm in slot order: volatility, growth, pipeline maturity, fund
    exit, firm exit, then the step's running totals of the survivors. Mesa: ``Firm.step`` and
    ``RegionModel.record_firm``. Returns (alive, above-scale, over 10, over 100, R&D-weighted
    output, eligible) counts of the step."""
    dt, sqrt_dt, log_thr = s[S_DT], s[S_SQRT_DT], s[S_LOG_THR]
    # Loop-invariant scalars in locals (the compiler cannot hoist loads from `s` past the stores
    # into the firm arrays).
    sigma0, sigma_elast, log_sigma_ref = s[S_SIGMA0], s[S_SIGMA_ELAST], s[S_LOG_SIGMA_REF]
    sigma_max, rd_effect, penalty = s[S_SIGMA_MAX], s[S_RD_EFFECT], s[S_SHORTAGE_PENALTY]
    exit_gamma, big1, big2 = s[S_EXIT_GAMMA], s[S_BIG1], s[S_BIG2]
    hold, theta, h0_dt = s[S_HOLD_STEPS], s[S_SELECT_EXP], s[S_EXIT_H0] * dt
    n_above = n10 = n100 = n_alive = n_elig = 0
    demand = 0.0
    rank = -1
    for i in range(n_used):
        if alive[i] == 0:
            continue
        rank += 1
        ly = logy[i]
        j, p = ind[i], park[i]
        # 7.2 volatility, 7.3 growth
        sig = sigma0 * math.exp(-sigma_elast * (ly - log_sigma_ref))
        if sig > sigma_max:
            sig = sigma_max
        g = (mu[k, j] + rd_effect * (rd[i] * rd_rel * (1.0 - shortage) - 1.0)
             - penalty * shortage + agg[p, j] + common + zind[j]
             - 0.5 * sig * sig)
        was_above = ly >= log_thr
        ly = ly + g * dt + sig * sqrt_dt * eps[rank]
        # 7.4 pipeline maturity
        if pipe[i] > 0.0 and k + 1 >= pipe_t[i]:
            ly = math.log(math.exp(ly) + pipe[i])
            pending_land[p] -= pipe[i]
            pipe[i] = 0.0
        # 7.5 fund exit
        if stake[i] > 0.0 and k + 1 - stake_t[i] >= hold:
            back = stake[i] * s[S_EXIT_MULT]
            tally[T_FUND_EXIT_PROCEEDS] += back
            if s[S_RECYCLE] > 0:
                cash[stake_f[i]] += back
            stakes[0] -= stake[i]
            stake[i] = 0.0
        # 7.6 firm exit. Exponential clock: exit when the draw falls below h(y) dt, so
        # P(exit) = 1 - exp(-h dt). At or above the threshold h(y) <= h0, so most draws are
        # decided without the exp.
        draw = exit_draw[rank]
        if (draw < h0_dt if ly >= log_thr else True) and \
                draw < h0_dt * math.exp(-exit_gamma * (ly - log_thr)):
            alive[i] = 0
            tally[T_EXITS] += 1
            if stake[i] > 0.0:
                tally[T_FUND_WRITEOFFS] += stake[i]
                stakes[0] -= stake[i]
                stake[i] = 0.0
            if pipe[i] > 0.0:
                pending_land[p] -= pipe[i]
            pipe[i] = 0.0
            continue
        logy[i] = ly
        age[i] += dt
        # 7.7 tallies of the survivors
        y = math.exp(ly)
        cell_out[p, j] += y
        cell_n[p, j] += 1.0
        land_used[p] += y
        n_alive += 1
        demand += rd[i] * y
        if ly >= log_thr:
            n_above += 1
            ind_out[j] += y
            park_out[p] += y
            if not was_above:
                tally[T_CROSSINGS] += 1
            if y >= big1:
                n10 += 1
            if y >= big2:
                n100 += 1
            elig_list[n_elig] = i
            elig_wlist[n_elig] = selection_weight(y, ly, theta)
            n_elig += 1
    return n_alive, n_above, n10, n100, demand, n_elig


@njit(cache=True, error_model="numpy")
def update_agglomeration(s, agg, cell_out, prev_cell):
    """ODD 7.8: growth of each park-industry cell feeds its firms' next-step growth.
    Mesa: the agglomeration loop of ``RegionModel.step``."""
    dt = s[S_DT]
    for p in range(agg.shape[0]):
        for j in range(agg.shape[1]):
            if cell_out[p, j] > 0.0 and prev_cell[p, j] > 0.0:
                agg[p, j] = s[S_AGG_ALPHA] * (math.log(cell_out[p, j])
                                              - math.log(prev_cell[p, j])) / dt
            else:
                agg[p, j] = 0.0
            prev_cell[p, j] = cell_out[p, j]


@njit(cache=True, error_model="numpy")
def raise_capital(s, f_inflow, f_max_deals, cash, deals):
    """ODD 7.9: each fund adds its inflow and counts the deals it can close (bounded by its
    deployment capacity). Mesa: ``Fund.raise_capital``. Returns whether any fund has a deal."""
    any_deal = False
    for f in range(f_inflow.size):
        cash[f] += f_inflow[f] * s[S_DT]
        deals[f] = min(int(cash[f] / s[S_TICKET] + 1e-9), f_max_deals[f])
        if deals[f] > 0:
            any_deal = True
    return any_deal


@njit(cache=True, error_model="numpy")
def eligible_by_industry(ind, elig_list, elig_wlist, n_elig, elig_idx, elig_cum, elig_count,
                         elig_start):
    """ODD 7.9: the step's eligible firms grouped by industry (slot order within an industry)
    with cumulative selection weights. Mesa: ``RegionModel._eligible_by_industry``."""
    J = elig_count.size
    elig_count[:] = 0
    for k_e in range(n_elig):
        elig_count[ind[elig_list[k_e]]] += 1
    elig_start[0] = 0
    for j in range(J):
        elig_start[j + 1] = elig_start[j] + elig_count[j]
    elig_count[:] = 0
    for k_e in range(n_elig):
        i = elig_list[k_e]
        j = ind[i]
        pos = elig_start[j] + elig_count[j]
        w = elig_wlist[k_e]
        elig_cum[pos] = w if elig_count[j] == 0 else elig_cum[pos - 1] + w
        elig_idx[pos] = i
        elig_count[j] += 1


@njit(cache=True, error_model="numpy")
def invest_funds(s, k, f_lev, f_alloc_cum, deals, cash, stakes, land, land_used, pending_land,
                 park, elig_idx, elig_cum, elig_count, elig_start, stake, stake_t, stake_f,
                 pipe, pipe_t, rng_fund, tally):
    """ODD 7.9: each fund's deals, industry by allocation, firm by size^theta, project land,
    failure, then the stake and the pending project. Mesa: ``Fund.invest``."""
    J = elig_count.size
    ticket, lag = s[S_TICKET], s[S_LAG_STEPS]
    for f in range(deals.size):
        for _ in range(deals[f]):
            u1 = rng_fund.random()
            u2 = rng_fund.random()
            u3 = rng_fund.random()
            j = 0
            while j < J and f_alloc_cum[f, j] <= u1:
                j += 1
            if j >= J or elig_count[j] == 0:
                continue
            lo, hi = elig_start[j], elig_start[j] + elig_count[j] - 1
            target = u2 * elig_cum[hi]
            while lo < hi:
                mid = (lo + hi) // 2
                if elig_cum[mid] <= target:
                    lo = mid + 1
                else:
                    hi = mid
            i = elig_idx[lo]
            if stake[i] > 0.0 and stake_f[i] != f:
                continue  # one fund per firm: no follow-on into another fund's stake
            added = ticket * (1.0 + f_lev[f]) * s[S_KAPPA] * s[S_ADDITIONALITY]
            p = park[i]
            if land[p] - land_used[p] - pending_land[p] < added:
                tally[T_FUND_DEALS_BLOCKED] += 1  # no park land for the project: the money waits
                continue
            cash[f] -= ticket
            tally[T_FUND_INVESTED] += ticket
            tally[T_CO_INVESTMENT] += ticket * f_lev[f]
            if u3 < s[S_FAILURE]:
                tally[T_FUND_PROJECTS_FAILED] += 1  # the project never produces; money lost
                tally[T_FUND_WRITEOFFS] += ticket
                continue
            invest(i, f, ticket, k + 1, added, lag, stake, stake_t, stake_f, pipe, pipe_t)
            pending_land[p] += added
            stakes[0] += ticket


@njit(cache=True, error_model="numpy")
def events_within_guard(n, cap, tally):
    """Iteration guard: at most one firm table's worth of entry events per step and cell. A rate
    pushed to absurd values (``attraction: 1e9``) would otherwise loop for hours over entries that
    could never be placed; the excess is counted as dropped, as a full table would drop it.
    Ordinary runs draw far fewer events, so their random streams are unchanged."""
    if n > cap:
        tally[T_ENTRIES_DROPPED] += n - cap
        return cap
    return n


@njit(cache=True, error_model="numpy")
def spawn_startups(s, allowed, land, land_used, cell_n, n_used, logy, ind, park, rd, age, alive,
                   pipe, pipe_t, stake, stake_t, stake_f, rng_entry, tally):
    """ODD 7.10: start-ups in every park-industry cell the park may host, blocked where the
    park's land is used up. Mesa: ``Park.spawn_startups``. Returns the slots used."""
    cap = logy.size
    dt = s[S_DT]
    for p in range(allowed.shape[0]):
        for j in range(allowed.shape[1]):
            if allowed[p, j] == 0:
                continue
            lam = (s[S_STARTUP_RATE] * cell_n[p, j] + s[S_STARTUP_FLOOR]) * dt
            for _ in range(events_within_guard(rng_entry.poisson(lam), cap, tally)):
                size = math.exp(s[S_LOG_STARTUP_SIZE]
                                + s[S_STARTUP_LOG_SD] * rng_entry.standard_normal())
                rd_new = new_rd(s, rng_entry.standard_normal())
                if land_used[p] + size > land[p]:
                    tally[T_ENTRIES_BLOCKED] += 1
                elif n_used >= cap:
                    tally[T_ENTRIES_DROPPED] += 1
                else:
                    add_firm(n_used, size, j, p, rd_new, logy, ind, park, rd, age, alive,
                             pipe, pipe_t, stake, stake_t, stake_f)
                    land_used[p] += size
                    n_used += 1
                    tally[T_ENTRIES_STARTUP] += 1
    return n_used


@njit(cache=True, error_model="numpy")
def attract_projects(s, allowed, land, land_used, attract_cum, n_used, logy, ind, park, rd, age,
                     alive, pipe, pipe_t, stake, stake_t, stake_f, rng_entry, tally):
    """ODD 7.11: attracted projects (招商引资), placed in a park with room, chosen in proportion
    to its free land. Mesa: ``RegionModel._attract_projects``. Returns the slots used."""
    cap = logy.size
    P, J = allowed.shape
    for _ in range(events_within_guard(rng_entry.poisson(s[S_ATTRACT_RATE] * s[S_DT]), cap,
                                       tally)):
        u1 = rng_entry.random()
        u2 = rng_entry.random()
        rd_new = new_rd(s, rng_entry.standard_normal())
        u3 = rng_entry.random()
        j = 0
        while j < J - 1 and attract_cum[j] <= u1:
            j += 1
        size = s[S_ATTRACT_SIZE] * (1.0 - u2) ** (-1.0 / s[S_ATTRACT_ALPHA])
        if size > s[S_ATTRACT_CAP]:
            size = s[S_ATTRACT_CAP]
        free_total = 0.0
        for p in range(P):
            if allowed[p, j] == 1 and land[p] - land_used[p] >= size:
                free_total += land[p] - land_used[p]
        if free_total <= 0.0:
            tally[T_ENTRIES_BLOCKED] += 1
            continue
        target = u3 * free_total
        chosen = -1
        acc = 0.0
        for p in range(P):
            if allowed[p, j] == 1 and land[p] - land_used[p] >= size:
                acc += land[p] - land_used[p]
                chosen = p
                if acc > target:
                    break
        if n_used >= cap:
            tally[T_ENTRIES_DROPPED] += 1
            continue
        add_firm(n_used, size, j, chosen, rd_new, logy, ind, park, rd, age, alive, pipe, pipe_t,
                 stake, stake_t, stake_f)
        land_used[chosen] += size
        n_used += 1
        tally[T_ENTRIES_ATTRACTED] += 1
    return n_used


@njit(cache=True, error_model="numpy")
def update_talent(s, t, talent, tau0, demand):
    """ODD 7.12: talent inflow grows, a share leaves; demand follows output and R&D effort.
    Mesa: the talent lines of ``RegionModel.step``. Returns (stock, demand, shortage)."""
    inflow = s[S_TALENT_INFLOW0] * math.exp(s[S_TALENT_GROWTH] * t)
    talent += (inflow - s[S_TALENT_ATTRITION] * talent) * s[S_DT]
    need = tau0 * s[S_RD_MULT] * demand * math.exp(-s[S_PROD_GROWTH] * t)
    shortage = 1.0 - talent / need if need > talent else 0.0
    return talent, need, shortage


@njit(cache=True, error_model="numpy")
def step_rest_of_economy(s, common, e, log_nonsei, log_serv, log_rest, ann_serv, row):
    """ODD 7.13: non-SEI industry (comparable sample, 7.17), each SEI services industry and GDP
    outside industry. Mesa: the rest-of-economy lines of ``RegionModel.step``. Returns (log
    non-SEI, log rest, services total); services accumulate into their rows here."""
    dt, sqrt_dt = s[S_DT], s[S_SQRT_DT]
    J = e.size - 3 - log_serv.size
    NS = log_serv.size
    log_nonsei += ((s[S_NONSEI_G] - 0.5 * s[S_NONSEI_SIGMA] ** 2 + common) * dt
                   + s[S_NONSEI_SIGMA] * sqrt_dt * e[1 + J])
    serv_total = 0.0
    for q in range(NS):
        log_serv[q] += ((s[S_SERV_G] - 0.5 * s[S_SERV_SIGMA] ** 2 + common) * dt
                        + s[S_SERV_SIGMA] * sqrt_dt * e[2 + J + q])
        v = math.exp(log_serv[q])
        ann_serv[row, q] += v * dt
        serv_total += v
    log_rest += ((s[S_GDP_G] - 0.5 * s[S_GDP_SIGMA] ** 2 + common) * dt
                 + s[S_GDP_SIGMA] * sqrt_dt * e[2 + J + NS])
    return log_nonsei, log_rest, serv_total


@njit(cache=True, error_model="numpy")
def simulate(s, mu, allowed, land, attract_cum, f_inflow, f_lev, f_alloc_cum, f_max_deals, serv0,
             shift, spy, n_years, logy, ind, park, rd, age, alive, pipe, pipe_t, stake, stake_t,
             stake_f, n_used, rng_macro, rng_growth, rng_exit, rng_fund, rng_entry,
             ann, ann_ind, ann_park, ann_serv, history):
    """One replication: the schedule of ODD 3, one call per submodel, in the order of
    ``RegionModel.step``. Returns the number of firm slots used."""
    J, P, F, NS = mu.shape[1], land.size, f_inflow.size, serv0.size
    cap = logy.size
    dt = s[S_DT]
    rd_rel = s[S_RD_MULT] / s[S_RD_MEAN]
    tau0 = record_row0(s, logy, ind, park, rd, alive, n_used, serv0, ann, ann_ind, ann_park,
                       ann_serv, history)

    # Aggregate state.
    e0 = rng_macro.standard_normal(1 + J)
    macro = s[S_MACRO_SIGMA] * e0[0]
    zind = np.empty(J)
    for j in range(J):
        zind[j] = s[S_IND_SIGMA] * e0[1 + j]
    log_nonsei = math.log(s[S_NONSEI0])
    log_serv = np.empty(NS)
    for q in range(NS):
        log_serv[q] = math.log(serv0[q]) if serv0[q] > 0 else -np.inf
    log_rest = math.log(s[S_GDP_REST0])
    talent = s[S_TALENT0]
    shortage = 0.0
    cash = np.zeros(F)
    stakes = np.zeros(1)                     # fund money held in firms
    agg = np.zeros((P, J))
    prev_cell = np.zeros((P, J))
    for i in range(n_used):
        if alive[i] == 1:
            prev_cell[park[i], ind[i]] += math.exp(logy[i])

    cell_out = np.zeros((P, J))
    cell_n = np.zeros((P, J))
    land_used = np.zeros(P)
    pending_land = np.zeros(P)               # land promised to fund-backed projects not yet built
    ind_out = np.zeros(J)
    park_out = np.zeros(P)
    elig_list = np.empty(cap, np.int64)      # fund-eligible firms this step, in slot order
    elig_wlist = np.empty(cap)
    elig_idx = np.empty(cap, np.int64)       # the same, grouped by industry
    elig_cum = np.empty(cap)
    elig_count = np.zeros(J, np.int64)
    elig_start = np.zeros(J + 1, np.int64)
    deals = np.zeros(F, np.int64)
    tally = np.zeros(len(STEP_TALLY))
    n_live = 0
    for i in range(n_used):
        n_live += alive[i]

    for k in range(n_years * spy):
        t = (k + 1) * dt
        row = k // spy + 1
        e = rng_macro.standard_normal(3 + J + NS)
        macro = update_shocks(s, macro, zind, e)
        common = macro + shift[k]
        # One growth and one exit draw per live firm, in slot order.
        eps = rng_growth.standard_normal(n_live)
        exit_draw = rng_exit.standard_exponential(n_live)
        cell_out[:, :] = 0.0
        cell_n[:, :] = 0.0
        land_used[:] = 0.0
        ind_out[:] = 0.0
        park_out[:] = 0.0
        tally[:] = 0.0
        n_alive, n_above, n10, n100, demand, n_elig = step_firms(
            s, k, mu, agg, common, zind, shortage, rd_rel, eps, exit_draw, logy, ind, park, rd,
            age, alive, pipe, pipe_t, stake, stake_t, stake_f, n_used, cash, stakes,
            pending_land, cell_out, cell_n, land_used, ind_out, park_out, elig_list, elig_wlist,
            tally)
        update_agglomeration(s, agg, cell_out, prev_cell)
        if raise_capital(s, f_inflow, f_max_deals, cash, deals):
            eligible_by_industry(ind, elig_list, elig_wlist, n_elig, elig_idx, elig_cum,
                                 elig_count, elig_start)
            invest_funds(s, k, f_lev, f_alloc_cum, deals, cash, stakes, land, land_used,
                         pending_land, park, elig_idx, elig_cum, elig_count, elig_start, stake,
                         stake_t, stake_f, pipe, pipe_t, rng_fund, tally)
        n_used = spawn_startups(s, allowed, land, land_used, cell_n, n_used, logy, ind, park, rd,
                                age, alive, pipe, pipe_t, stake, stake_t, stake_f, rng_entry,
                                tally)
        n_used = attract_projects(s, allowed, land, land_used, attract_cum, n_used, logy, ind,
                                  park, rd, age, alive, pipe, pipe_t, stake, stake_t, stake_f,
                                  rng_entry, tally)
        n_live = n_alive + int(tally[T_ENTRIES_STARTUP]) + int(tally[T_ENTRIES_ATTRACTED])
        talent, need, shortage = update_talent(s, t, talent, tau0, demand)
        log_nonsei, log_rest, serv_total = step_rest_of_economy(
            s, common, e, log_nonsei, log_serv, log_rest, ann_serv, row)
        accumulate(s, ann, ann_ind, ann_park, row, ind_out, park_out, log_nonsei, serv_total,
                   log_rest, shortage, macro, tally)
        if (k + 1) % spy == 0:
            close_year(ann, row, n_above, n10, n100, n_alive, talent, need, cash, stakes[0],
                       logy, alive, n_used, history)
    return n_used


@njit(cache=True, error_model="numpy")
def accumulate(s, ann, ann_ind, ann_park, row, ind_out, park_out, log_nonsei, serv_total,
               log_rest, shortage, macro, tally):
    """ODD 7.14: the step's flows (x dt) and tallies into the year's row. Mesa: the
    accumulation lines of ``RegionModel.step``."""
    dt = s[S_DT]
    sei = 0.0
    for j in range(ind_out.size):
        sei += ind_out[j]
        ann_ind[row, j] += ind_out[j] * dt
    for p in range(park_out.size):
        ann_park[row, p] += park_out[p] * dt
    ann[row, A_SEI_INDUSTRIAL_OUTPUT] += sei * dt
    ann[row, A_NONSEI_OUTPUT_COMPARABLE] += math.exp(log_nonsei) * dt
    ann[row, A_SEI_SERVICES_OUTPUT] += serv_total * dt
    ann[row, A_GDP_REST] += math.exp(log_rest) * dt
    ann[row, A_TALENT_SHORTAGE] += shortage * dt
    ann[row, A_MACRO_SHOCK] += macro * dt
    for t in range(tally.size):
        ann[row, TALLY_COLUMNS[t]] += tally[t]


@njit(cache=True, error_model="numpy")
def close_year(ann, row, n_above, n10, n100, n_alive, talent, need, cash, stakes_total, logy,
               alive, n_used, history):
    """ODD 7.14: year-end stocks and counts at the year's last step. Mesa: the year-end block of
    ``RegionModel.step``."""
    ann[row, A_ABOVE_SCALE_FIRMS] = n_above
    ann[row, A_FIRMS_OVER_10] = n10
    ann[row, A_FIRMS_OVER_100] = n100
    ann[row, A_ALIVE_FIRMS] = n_alive
    ann[row, A_TALENT_STOCK] = talent
    ann[row, A_TALENT_DEMAND] = need
    cash_total = 0.0
    for f in range(cash.size):
        cash_total += cash[f]
    ann[row, A_FUND_CASH] = cash_total
    ann[row, A_FUND_STAKES] = stakes_total
    if history.shape[0] > 0:
        for i in range(n_used):
            history[row, i] = math.exp(logy[i]) if alive[i] == 1 else 0.0


@njit(cache=True, error_model="numpy")
def new_rd(s, z):
    """R&D intensity of a new firm (ODD 5.3 step 6). Mesa: ``RegionModel.new_rd``."""
    return s[S_RD_MEAN] * math.exp(s[S_RD_LOG_SD] * z - 0.5 * s[S_RD_LOG_SD] ** 2)


@njit(cache=True, error_model="numpy")
def invest(i, f, ticket, now, added_output, lag, stake, stake_t, stake_f, pipe, pipe_t):
    """A fund deal in firm i. A firm already holding a stake receives a follow-on: the stake and
    the pending project grow, their dates become amount-weighted averages (so follow-ons neither
    postpone nor hasten earlier money on average)."""
    stake_t[i] = (stake_t[i] * stake[i] + now * ticket) / (stake[i] + ticket)
    stake[i] += ticket
    stake_f[i] = f
    due = now + lag
    pipe_t[i] = (pipe_t[i] * pipe[i] + due * added_output) / (pipe[i] + added_output)
    pipe[i] += added_output


@njit(cache=True, error_model="numpy")
def selection_weight(y, ly, theta):
    """A firm's weight in fund selection, output^theta (exact shortcuts for common exponents)."""
    if theta == 0.5:
        return math.sqrt(y)
    if theta == 1.0:
        return y
    if theta == 0.0:
        return 1.0
    return math.exp(theta * ly)


@njit(cache=True, error_model="numpy")
def add_firm(i, size, j, p, rd_new, logy, ind, park, rd, age, alive, pipe, pipe_t, stake,
              stake_t, stake_f):
    logy[i] = math.log(size)
    ind[i] = j
    park[i] = p
    rd[i] = rd_new
    age[i] = 0.0
    alive[i] = 1
    pipe[i] = 0.0
    pipe_t[i] = 0
    stake[i] = 0.0
    stake_t[i] = 0
    stake_f[i] = 0
