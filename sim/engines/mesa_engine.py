"""The reference engine: the model written agent by agent with Mesa 3.

Firms, parks and funds are ``mesa.Agent`` objects that step themselves; the region's talent pool and
the rest of the economy are stocks held by the :class:`RegionModel`. It is slow (pure Python) and
meant to be read, inspected in a notebook (``model.agents_by_type``, ``model.datacollector``) and to
check the numba kernel: both draw the same random numbers in the same order from the same streams,
so trajectories agree to rounding (tested). See ``docs/ODD.md`` for the equations.

Usage::

    model = RegionModel(sim.model.inputs.compile_inputs(plan), seed=1)
    model.run()
    model.datacollector.get_model_vars_dataframe()
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from sim.engines.kernel import A_INDEX, STEP_TALLY, selection_weight
from sim.engines.state import FirmState, RunResult, finish_run, new_annual_arrays
from sim.model.inputs import ModelInputs, random_streams

A = A_INDEX


class Firm(mesa.Agent):
    """A firm: output grows by a Gibrat-type random walk with drift, exits by a size-dependent
    hazard, and may hold a fund stake with a project in its pipeline."""

    def __init__(self, model: RegionModel, slot: int, output: float, industry: int, park: int,
                 rd: float, age: float):
        super().__init__(model)
        self.slot = slot
        self.log_output = math.log(output)
        self.industry, self.park, self.rd, self.age = industry, park, rd, age
        self.pipeline, self.pipeline_step = 0.0, 0
        self.stake, self.stake_step, self.stake_fund = 0.0, 0, 0
        # The exit clock (ODD 7.6): an Exp(1) amount of hazard the firm can absorb in its life,
        # drawn at birth from the exit stream.
        self.exit_clock = model.streams["exit"].standard_exponential()

    @property
    def output(self) -> float:
        return math.exp(self.log_output)

    @property
    def above_scale(self) -> bool:
        return self.log_output >= self.model.s["log_thr"]

    def step(self) -> None:
        """ODD 7.2-7.6 (kernel: ``step_firms``): volatility, growth, pipeline maturity, fund
        exit, exit; survivors report their totals (7.7, ``RegionModel.record_firm``)."""
        m, s = self.model, self.model.s
        k = m.step_index
        ly = self.log_output
        j, p = self.industry, self.park
        sig = min(s["sigma0"] * math.exp(-s["sigma_elast"] * (ly - s["log_sigma_ref"])),
                  s["sigma_max"])
        # The cell's share of the growth rate plus the firm's own R&D term (RegionModel.step).
        growth = m.cell_drift[p, j] + m.rd_coef * self.rd - 0.5 * sig * sig
        was_above = ly >= s["log_thr"]
        ly = ly + growth * s["dt"] + sig * s["sqrt_dt"] * m.eps[self.rank]
        if self.pipeline > 0.0 and k + 1 >= self.pipeline_step:
            ly = math.log(math.exp(ly) + self.pipeline)
            m.parks[p].pending_land -= self.pipeline
            self.pipeline = 0.0
        if self.stake > 0.0 and k + 1 - self.stake_step >= s["hold_steps"]:
            m.funds[self.stake_fund].take_exit(self)
        # The exit clock runs down by hazard * dt; the firm exits in the step it passes zero
        # (P = 1 - exp(-h dt) given survival so far), keeping the size it had then.
        self.log_output = ly
        self.exit_clock -= s["exit_h0"] * s["dt"] * math.exp(-s["exit_gamma"] * (ly - s["log_thr"]))
        if self.exit_clock < 0.0:
            m.tally["exits"] += 1
            if self.stake > 0.0:
                m.funds[self.stake_fund].write_off(self)
            if self.pipeline > 0.0:
                m.parks[p].pending_land -= self.pipeline
            self.pipeline = 0.0
            m.firms.remove(self)  # the model keeps exited firms in by_slot for the firm table
            self.remove()
            return
        self.age += s["dt"]
        m.record_firm(self, was_above)


class Park(mesa.Agent):
    """An industrial park: land (in output units) and the industries it may host."""

    def __init__(self, model: RegionModel, index: int, name: str, land: float, allowed):
        super().__init__(model)
        self.index, self.name, self.land, self.allowed = index, name, land, allowed
        self.land_used = 0.0
        self.pending_land = 0.0  # land promised to fund-backed projects not yet built

    def free_land(self) -> float:
        return self.land - self.land_used

    def spawn_startups(self) -> None:
        """ODD 7.10 (kernel: ``spawn_startups``)."""
        m, s = self.model, self.model.s
        rng = m.streams["entry"]
        for j in range(len(self.allowed)):
            if not self.allowed[j]:
                continue
            lam = (s["startup_rate"] * m.cell_n[self.index, j] + s["startup_floor"]) * s["dt"]
            for _ in range(m.events_within_guard(rng.poisson(lam))):
                size = math.exp(s["log_startup_size"] + s["startup_log_sd"] * rng.standard_normal())
                rd = m.new_rd(rng.standard_normal())
                if self.land_used + size > self.land:
                    m.tally["entries_blocked"] += 1
                elif m.add_firm(size, j, self, rd):
                    m.tally["entries_startup"] += 1


class Fund(mesa.Agent):
    """A government equity fund: receives capital, invests it in tickets (drawing co-investment
    into a project that adds output after a lag), exits after a holding period and recycles."""

    def __init__(self, model: RegionModel, index: int, inflow: float, leverage: float,
                 alloc_cum: np.ndarray, max_deals: int):
        super().__init__(model)
        self.index, self.inflow, self.leverage, self.alloc_cum = index, inflow, leverage, alloc_cum
        self.max_deals = max_deals  # deployment capacity per step
        self.cash = 0.0
        self.deals_due = 0

    def raise_capital(self) -> None:
        """ODD 7.9 (kernel: ``raise_capital``): inflow, then the deals the fund can close."""
        self.cash += self.inflow * self.model.s["dt"]
        self.deals_due = min(int(self.cash / self.model.s["ticket"] + 1e-9), self.max_deals)

    def invest(self, table) -> None:
        """ODD 7.9 (kernel: ``invest_funds``): each deal's industry, firm, land and failure."""
        m, s = self.model, self.model.s
        rng = m.streams["fund"]
        ticket = s["ticket"]
        for _ in range(self.deals_due):
            u1, u2, u3 = rng.random(), rng.random(), rng.random()
            j = 0
            while j < len(self.alloc_cum) and self.alloc_cum[j] <= u1:
                j += 1
            if j >= len(self.alloc_cum) or not table[j][0]:
                continue
            firms, cum = table[j]
            target = u2 * cum[-1]
            lo, hi = 0, len(cum) - 1
            while lo < hi:
                mid = (lo + hi) // 2
                if cum[mid] <= target:
                    lo = mid + 1
                else:
                    hi = mid
            firm = firms[lo]
            if firm.stake > 0.0 and firm.stake_fund != self.index:
                continue  # one fund per firm: no follow-on into another fund's stake
            # The project needs park land; crowding out leaves only the additional part.
            added = ticket * (1.0 + self.leverage) * s["kappa"] * s["additionality"]
            park = m.parks[firm.park]
            if park.land - park.land_used - park.pending_land < added:
                m.tally["fund_deals_blocked"] += 1  # no land for the project: the money waits
                continue
            self.cash -= ticket
            m.tally["fund_invested"] += ticket
            m.tally["co_investment"] += ticket * self.leverage
            if u3 < s["failure"]:
                m.tally["fund_projects_failed"] += 1  # never produces; the money is lost
                m.tally["fund_writeoffs"] += ticket
                continue
            now = m.step_index + 1
            # Follow-on deals grow the stake and the pending project; their dates become
            # amount-weighted averages.
            firm.stake_step = (firm.stake_step * firm.stake + now * ticket) / (firm.stake + ticket)
            firm.stake += ticket
            firm.stake_fund = self.index
            due = now + s["lag_steps"]
            firm.pipeline_step = (firm.pipeline_step * firm.pipeline + due * added) / (
                firm.pipeline + added)
            firm.pipeline += added
            park.pending_land += added
            m.stakes_total += ticket

    def take_exit(self, firm: Firm) -> None:
        """ODD 7.5 (kernel: in ``step_firms``)."""
        back = firm.stake * self.model.s["exit_mult"]
        self.model.tally["fund_exit_proceeds"] += back
        if self.model.s["recycle"] > 0:
            self.cash += back
        self.model.stakes_total -= firm.stake
        firm.stake = 0.0

    def write_off(self, firm: Firm) -> None:
        self.model.tally["fund_writeoffs"] += firm.stake
        self.model.stakes_total -= firm.stake
        firm.stake = 0.0


class RegionModel(mesa.Model):
    """A region: firms in parks, funds, a talent pool and the non-SEI economy."""

    def __init__(self, inputs: ModelInputs, seed: np.random.SeedSequence | int = 0,
                 record_firms: bool = False):
        self.streams = random_streams(seed)
        super().__init__(rng=self.streams["agents"])
        self.inputs = inputs
        self.s = inputs.scalars
        self.rd_rel = self.s["rd_mult"] / self.s["rd_mean"]
        b = inputs.baseline
        J, P = len(b.industries), len(b.parks)
        self.step_index = 0

        initial = FirmState.initial(inputs, self.streams["population"])
        self.capacity = initial.capacity
        self.parks = [Park(self, p, b.parks[p], inputs.land[p], inputs.cell_allowed[p] == 1)
                      for p in range(P)]
        self.funds = [Fund(self, f, inputs.fund_inflow[f], inputs.fund_leverage[f],
                           inputs.fund_alloc_cum[f], int(inputs.fund_max_deals[f]))
                      for f in range(len(inputs.fund_inflow))]
        self.n_used = 0
        self.firms = mesa.agent.AgentSet([], random=self.random)
        self.by_slot: list[Firm] = []  # every firm ever created, exited ones included
        for i in range(initial.n_used):
            self._new_firm(math.exp(initial.logy[i]), int(initial.industry[i]),
                           int(initial.park[i]), initial.rd[i], initial.age[i])
        self.arrays = new_annual_arrays(inputs, self.capacity if record_firms else 0)
        self._record_row0()

        rng = self.streams["macro"]
        e0 = rng.standard_normal(1 + J)
        self.macro = self.s["macro_sigma"] * e0[0]
        self.industry_shock = self.s["ind_sigma"] * e0[1:]
        self.log_nonsei = math.log(self.s["nonsei0"])
        self.log_services = [math.log(v) if v > 0 else -math.inf for v in inputs.services0]
        self.log_gdp_rest = math.log(self.s["gdp_rest0"])
        self.talent = self.s["talent0"]
        self.shortage = 0.0
        self.stakes_total = 0.0
        self.agglomeration = np.zeros((P, J))
        self.prev_cell = np.zeros((P, J))
        for firm in self.firms:
            self.prev_cell[firm.park, firm.industry] += firm.output
        self.datacollector = mesa.DataCollector(model_reporters={
            "year": lambda m: m.inputs.start_year + m.step_index // m.inputs.steps_per_year,
            "sei_industrial_output_rate": lambda m: sum(
                f.output for f in m.firms if f.above_scale),
            "above_scale_firms": lambda m: len(m.firms.select(lambda f: f.above_scale)),
            "talent_stock": lambda m: m.talent,
            "talent_shortage": lambda m: m.shortage,
            "fund_cash": lambda m: sum(f.cash for f in m.funds),
        })
        self.datacollector.collect(self)

    # -- population ---------------------------------------------------------------------------
    def _new_firm(self, output, industry, park, rd, age) -> Firm:
        firm = Firm(self, self.n_used, output, industry, park, rd, age)
        self.firms.add(firm)
        self.by_slot.append(firm)
        self.n_used += 1
        return firm

    def add_firm(self, size: float, industry: int, park: Park, rd: float) -> bool:
        if self.n_used >= self.capacity:
            self.tally["entries_dropped"] += 1
            return False
        self._new_firm(size, industry, park.index, rd, 0.0)
        park.land_used += size
        return True

    def new_rd(self, z: float) -> float:
        s = self.s
        return s["rd_mean"] * math.exp(s["rd_log_sd"] * z - 0.5 * s["rd_log_sd"] ** 2)

    def _record_row0(self) -> None:
        ann, ann_ind, ann_park, ann_serv, history = self.arrays
        demand = 0.0
        for firm in self.firms:
            y = firm.output
            demand += firm.rd * y
            ann[0, A["alive_firms"]] += 1
            if firm.above_scale:
                ann[0, A["sei_industrial_output"]] += y
                ann_ind[0, firm.industry] += y
                ann_park[0, firm.park] += y
                ann[0, A["above_scale_firms"]] += 1
                ann[0, A["firms_over_10"]] += y >= self.s["big1"]
                ann[0, A["firms_over_100"]] += y >= self.s["big2"]
            if history.shape[0]:
                history[0, firm.slot] = y
        for q, v in enumerate(self.inputs.services0):
            ann_serv[0, q] = v
            ann[0, A["sei_services_output"]] += v
        ann[0, A["nonsei_output_comparable"]] = self.s["nonsei0"]
        ann[0, A["gdp_rest"]] = self.s["gdp_rest0"]
        ann[0, A["talent_stock"]] = self.s["talent0"]
        ann[0, A["talent_demand"]] = self.s["talent0"] * self.s["rd_mult"]
        self.tau0 = self.s["talent0"] / demand if demand > 0 else 0.0

    def record_firm(self, firm: Firm, was_above: bool) -> None:
        """ODD 7.7 (kernel: end of ``step_firms``): called by each surviving firm after it
        stepped, the step's running totals."""
        y = firm.output
        p, j = firm.park, firm.industry
        self.cell_out[p, j] += y
        self.cell_n[p, j] += 1.0
        self.parks[p].land_used += y
        self.n_alive += 1
        self.demand += firm.rd * y
        if firm.above_scale:
            self.n_above += 1
            self.ind_out[j] += y
            self.park_out[p] += y
            self.tally["crossings"] += not was_above
            self.n10 += y >= self.s["big1"]
            self.n100 += y >= self.s["big2"]
            self.eligible.append((firm, selection_weight(y, firm.log_output,
                                                         self.s["select_exp"])))

    # -- one step -----------------------------------------------------------------------------
    def step(self) -> None:
        s, inputs = self.s, self.inputs
        k = self.step_index
        J, P, NS = inputs.mu.shape[1], len(self.parks), len(inputs.services0)
        dt, sqrt_dt = s["dt"], s["sqrt_dt"]
        t = (k + 1) * dt
        row = k // inputs.steps_per_year + 1

        # ODD 7.1 shocks (kernel: update_shocks)
        e = self.streams["macro"].standard_normal(3 + J + NS)
        rho, sd = s["macro_rho"], s["macro_sigma"] * math.sqrt(1 - s["macro_rho"] ** 2)
        self.macro = rho * self.macro + sd * e[0]
        zr, zs = s["ind_rho"], s["ind_sigma"] * math.sqrt(1 - s["ind_rho"] ** 2)
        self.industry_shock = np.array([zr * self.industry_shock[j] + zs * e[1 + j]
                                        for j in range(J)])
        self.common_shock = self.macro + inputs.drift_shift[k]
        n_live = 0
        for firm in self.firms:  # one growth draw per live firm, in slot order
            firm.rank = n_live
            n_live += 1
        self.eps = self.streams["growth"].standard_normal(n_live)
        # ODD 7.3: the growth rate's part shared by a cell's firms, and the R&D coefficient.
        base = -s["rd_effect"] - s["shortage_penalty"] * self.shortage
        self.cell_drift = np.array([[inputs.mu[k, j] + base + self.agglomeration[p, j]
                                     + self.common_shock + self.industry_shock[j]
                                     for j in range(J)] for p in range(P)])
        self.rd_coef = s["rd_effect"] * self.rd_rel * (1.0 - self.shortage)
        self.eligible = []

        self.cell_out, self.cell_n = np.zeros((P, J)), np.zeros((P, J))
        for park in self.parks:
            park.land_used = 0.0
        self.ind_out, self.park_out = np.zeros(J), np.zeros(P)
        self.n_above = self.n10 = self.n100 = self.n_alive = 0
        self.demand = 0.0
        self.tally = dict.fromkeys(STEP_TALLY, 0)
        self.firms.do("step")  # in slot order: AgentSet keeps insertion order

        for p in range(P):  # ODD 7.8 agglomeration (kernel: update_agglomeration)
            for j in range(J):
                if self.cell_out[p, j] > 0.0 and self.prev_cell[p, j] > 0.0:
                    self.agglomeration[p, j] = s["agg_alpha"] * (
                        math.log(self.cell_out[p, j]) - math.log(self.prev_cell[p, j])) / dt
                else:
                    self.agglomeration[p, j] = 0.0
                self.prev_cell[p, j] = self.cell_out[p, j]

        for fund in self.funds:
            fund.raise_capital()
        if any(f.deals_due > 0 for f in self.funds):
            table = self._eligible_by_industry(J)
            for fund in self.funds:
                fund.invest(table)

        for park in self.parks:
            park.spawn_startups()
        self._attract_projects(J)

        # ODD 7.12 talent (kernel: update_talent)
        inflow = s["talent_inflow0"] * math.exp(s["talent_growth"] * t)
        self.talent += (inflow - s["talent_attrition"] * self.talent) * dt
        need = self.tau0 * s["rd_mult"] * self.demand * math.exp(-s["prod_growth"] * t)
        self.shortage = 1.0 - self.talent / need if need > self.talent else 0.0

        # ODD 7.13 rest of the economy (kernel: step_rest_of_economy)
        common = self.common_shock
        self.log_nonsei += ((s["nonsei_g"] - 0.5 * s["nonsei_sigma"] ** 2 + common) * dt
                            + s["nonsei_sigma"] * sqrt_dt * e[1 + J])
        ann, ann_ind, ann_park, ann_serv, history = self.arrays
        serv_total = 0.0
        for q in range(NS):
            self.log_services[q] += ((s["serv_g"] - 0.5 * s["serv_sigma"] ** 2 + common) * dt
                                     + s["serv_sigma"] * sqrt_dt * e[2 + J + q])
            v = math.exp(self.log_services[q])
            ann_serv[row, q] += v * dt
            serv_total += v
        self.log_gdp_rest += ((s["gdp_g"] - 0.5 * s["gdp_sigma"] ** 2 + common) * dt
                              + s["gdp_sigma"] * sqrt_dt * e[2 + J + NS])

        # ODD 7.14 accumulation (kernel: accumulate, close_year)
        sei = 0.0
        for j in range(J):
            sei += self.ind_out[j]
            ann_ind[row, j] += self.ind_out[j] * dt
        for p in range(P):
            ann_park[row, p] += self.park_out[p] * dt
        ann[row, A["sei_industrial_output"]] += sei * dt
        ann[row, A["nonsei_output_comparable"]] += math.exp(self.log_nonsei) * dt
        ann[row, A["sei_services_output"]] += serv_total * dt
        ann[row, A["gdp_rest"]] += math.exp(self.log_gdp_rest) * dt
        ann[row, A["talent_shortage"]] += self.shortage * dt
        ann[row, A["macro_shock"]] += self.macro * dt
        for name, value in self.tally.items():
            ann[row, A[name]] += value
        self.step_index += 1
        if self.step_index % inputs.steps_per_year == 0:
            ann[row, A["above_scale_firms"]] = self.n_above
            ann[row, A["firms_over_10"]] = self.n10
            ann[row, A["firms_over_100"]] = self.n100
            ann[row, A["alive_firms"]] = self.n_alive
            ann[row, A["talent_stock"]] = self.talent
            ann[row, A["talent_demand"]] = need
            ann[row, A["fund_cash"]] = sum(f.cash for f in self.funds)
            ann[row, A["fund_stakes"]] = self.stakes_total
            if history.shape[0]:
                for firm in self.firms:
                    history[row, firm.slot] = firm.output
            self.datacollector.collect(self)

    def _eligible_by_industry(self, J: int):
        """ODD 7.9 (kernel: ``eligible_by_industry``). Per industry: this step's above-scale firms (slot order) and their cumulative
        selection weights."""
        table = [([], []) for _ in range(J)]
        for firm, w in self.eligible:
            firms, cum = table[firm.industry]
            cum.append(w if not cum else cum[-1] + w)
            firms.append(firm)
        return table

    def events_within_guard(self, n: int) -> int:
        """Iteration guard (kernel: ``events_within_guard``): at most one firm table's worth of
        entry events per draw; the excess is counted as dropped."""
        if n > self.capacity:
            self.tally["entries_dropped"] += n - self.capacity
            return self.capacity
        return n

    def _attract_projects(self, J: int) -> None:
        """ODD 7.11 (kernel: ``attract_projects``)."""
        s, rng = self.s, self.streams["entry"]
        for _ in range(self.events_within_guard(rng.poisson(s["attract_rate"] * s["dt"]))):
            u1, u2 = rng.random(), rng.random()
            rd = self.new_rd(rng.standard_normal())
            u3 = rng.random()
            j = 0
            while j < J - 1 and self.inputs.attraction_cum[j] <= u1:
                j += 1
            size = min(s["attract_size"] * (1.0 - u2) ** (-1.0 / s["attract_alpha"]),
                       s["attract_cap"])
            candidates = [p for p in self.parks if p.allowed[j] and p.free_land() >= size]
            free_total = 0.0
            for p in candidates:
                free_total += p.free_land()
            if free_total <= 0.0:
                self.tally["entries_blocked"] += 1
                continue
            target, acc, chosen = u3 * free_total, 0.0, None
            for p in candidates:
                acc += p.free_land()
                chosen = p
                if acc > target:
                    break
            if self.add_firm(size, j, chosen, rd):
                self.tally["entries_attracted"] += 1

    def run(self) -> None:
        for _ in range(self.inputs.n_steps):
            self.step()

    def firm_state(self) -> FirmState:
        """The firm table in the numba engine's layout (slots of exited firms marked dead)."""
        state = FirmState.empty(self.capacity)
        alive = {id(f) for f in self.firms}
        for firm in self.by_slot:
            i = firm.slot
            state.logy[i], state.industry[i], state.park[i] = (firm.log_output, firm.industry,
                                                               firm.park)
            state.rd[i], state.age[i] = firm.rd, firm.age
            state.alive[i] = id(firm) in alive
            state.stake[i], state.pipeline[i] = firm.stake, firm.pipeline
        state.n_used = self.n_used
        return state


def run_mesa(inputs: ModelInputs, seed, record_firms: bool = False) -> RunResult:
    """Run one replication on the Mesa engine."""
    model = RegionModel(inputs, seed, record_firms)
    model.run()
    return finish_run(inputs, model.firm_state(), model.arrays)
