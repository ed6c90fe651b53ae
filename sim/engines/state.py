"""Run state and run results shared by both engines.

:class:`FirmState` is the struct-of-arrays firm table (fixed capacity; a slot is never reused, so a
firm's slot is its identity). :class:`RunResult` turns an engine's per-year arrays into the tidy
``annual`` table users read. Everything per year is aggregated while the run goes; per-firm history
exists only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

import sim.portable as portable
from sim.engines.kernel import A_INDEX, ANNUAL
from sim.errors import InputError
from sim.model.inputs import ModelInputs
from sim.engines.population import PopulationLayout, population_layout, synthesize


@dataclass
class FirmState:
    logy: np.ndarray
    industry: np.ndarray
    park: np.ndarray
    rd: np.ndarray
    age: np.ndarray
    alive: np.ndarray
    pipeline: np.ndarray        # output (亿元/yr) a fund-backed project will add
    pipeline_step: np.ndarray   # step at which it starts producing (amount-weighted)
    stake: np.ndarray           # fund money held in the firm (亿元)
    stake_step: np.ndarray      # step the stake was taken (amount-weighted for follow-ons)
    stake_fund: np.ndarray      # which fund holds it
    n_used: int

    @property
    def capacity(self) -> int:
        return self.logy.size

    @classmethod
    def empty(cls, capacity: int) -> FirmState:
        return cls(logy=np.zeros(capacity), industry=np.zeros(capacity, np.int64),
                   park=np.zeros(capacity, np.int64), rd=np.zeros(capacity),
                   age=np.zeros(capacity), alive=np.zeros(capacity, np.int8),
                   pipeline=np.zeros(capacity), pipeline_step=np.zeros(capacity),
                   stake=np.zeros(capacity), stake_step=np.zeros(capacity),
                   stake_fund=np.zeros(capacity, np.int64), n_used=0)

    @classmethod
    def initial(cls, inputs: ModelInputs, rng: np.random.Generator,
                layout: PopulationLayout | None = None) -> FirmState:
        """The firm table at t0: the synthetic population (ODD 5.3, compiled) drawn with ``rng``
        (the replication's population stream), in a table of ``inputs.capacity`` slots."""
        layout = layout or population_layout(inputs.baseline, inputs.params)
        state = cls.empty(inputs.capacity(layout.n_firms))
        state.n_used = synthesize(layout, rng, state.logy, state.industry, state.park, state.rd,
                                  state.age, state.alive)
        return state


def new_annual_arrays(inputs: ModelInputs, history_slots: int):
    rows = inputs.n_years + 1
    b = inputs.baseline
    return (np.zeros((rows, len(ANNUAL))), np.zeros((rows, len(b.industries))),
            np.zeros((rows, len(b.parks))), np.zeros((rows, len(b.services))),
            np.zeros((rows if history_slots else 0, history_slots)))


@dataclass
class RunResult:
    """One replication: the tidy per-year table and, on request, per-firm history."""

    inputs: ModelInputs
    raw: np.ndarray              # (years, len(ANNUAL))
    by_industry: np.ndarray
    by_park: np.ndarray
    by_services: np.ndarray
    firm_history: np.ndarray | None
    firms: FirmState | None      # the final firm table; None if the batch did not keep it

    @property
    def annual(self) -> pd.DataFrame:
        return annual_frame(self.inputs, self.raw, self.by_industry, self.by_park,
                            self.by_services)

    def firm_table(self) -> pd.DataFrame:
        """Per-firm output by year (only if the run was made with ``record_firms=True``)."""
        if self.firm_history is None:
            raise ValueError("run with record_firms=True to keep per-firm history")
        n = self.firms.n_used
        b = self.inputs.baseline
        hist = self.firm_history[:, :n]
        years, slots = np.nonzero(hist > 0)
        return pd.DataFrame({
            "year": self.inputs.years[years], "firm": slots,
            "industry": np.array(b.industries)[self.firms.industry[slots]],
            "park": np.array(b.parks)[self.firms.park[slots]],
            "output": hist[years, slots],
        })


def finish_run(inputs: ModelInputs, firms: FirmState | None, arrays) -> RunResult:
    ann, ann_ind, ann_park, ann_serv, history = arrays
    for name, block in (("annual", ann), ("industry", ann_ind), ("park", ann_park),
                        ("services", ann_serv)):
        if not np.isfinite(block).all():
            # An overflow is never reported as a result: the replication fails with its seed.
            row = int(np.argwhere(~np.isfinite(block))[0][0])
            raise InputError(
                f"simulated {name} values are not finite from {int(inputs.years[row])} on: the "
                "parameters or levers push the model beyond floating-point range")
    return RunResult(inputs, ann, ann_ind, ann_park, ann_serv,
                     history if history.shape[0] else None, firms)


def derived_columns(raw: np.ndarray, va_ratio, nonsei_va_ratio, coverage) -> dict:
    """Shares and value added computed from the simulated stocks, never assumed (ratios may be
    scalars or one value per row).

    ``coverage`` is the statistical coverage of the non-SEI above-scale level relative to the base
    year (ODD 7.17): published levels move with the sample of above-scale firms (exits, firms
    falling below the threshold, data revisions) while published growth rates compare the same
    firms in both years. So levels and shares use ``coverage * comparable``; growth rates and GDP
    (which counts all industry, whatever its size) use the comparable basis.
    """
    sei = raw[:, A_INDEX["sei_industrial_output"]]
    serv = raw[:, A_INDEX["sei_services_output"]]
    nonsei_comparable = raw[:, A_INDEX["nonsei_output_comparable"]]
    nonsei = coverage * nonsei_comparable
    total_ind = sei + nonsei
    sei_va = va_ratio * (sei + serv)
    sei_ind_va = va_ratio * sei
    ind_va = sei_ind_va + nonsei_va_ratio * nonsei
    gdp = raw[:, A_INDEX["gdp_rest"]] + sei_va + nonsei_va_ratio * nonsei_comparable
    return {
        "nonsei_output": nonsei,
        "sei_output_total": sei + serv,
        "total_industrial_output": total_ind,
        "sei_output_share": 100 * sei / total_ind,
        "sei_output_share_incl_services": 100 * (sei + serv) / total_ind,
        "sei_value_added": sei_va,
        "gdp": gdp,
        "sei_value_added_share_gdp": 100 * sei_va / gdp,
        "sei_industrial_value_added": sei_ind_va,
        "industrial_value_added": ind_va,
        "industrial_value_added_share_gdp": 100 * ind_va / gdp,
        "industrial_value_added_comparable": sei_ind_va + nonsei_va_ratio * nonsei_comparable,
        "sei_share_of_industrial_value_added": 100 * sei_ind_va / ind_va,
    }


#: Growth at comparable prices (as bulletins publish it): column -> (nominal column, price level).
#: Industrial growth is measured on the comparable sample (ODD 7.17), as bulletins compute it.
REAL_GROWTH = {
    "sei_industrial_value_added_growth": ("sei_industrial_value_added", "industrial_price_level"),
    "industrial_value_added_growth": ("industrial_value_added_comparable",
                                      "industrial_price_level"),
    "gdp_growth": ("gdp", "gdp_price_level"),
}


def real_growth_columns(data: dict, rows: list[int]) -> dict:
    """Year-on-year growth (%) at comparable prices within each run of stacked rows; the first row
    of a run (the base year) has no previous year and gets NaN."""
    starts = np.cumsum([0] + list(rows[:-1]))
    out = {}
    for name, (nominal, price) in REAL_GROWTH.items():
        real = data[nominal] / data[price]
        growth = np.full(real.shape, np.nan)
        growth[1:] = 100 * (real[1:] / real[:-1] - 1)
        growth[starts] = np.nan
        out[name] = growth
    return out


def annual_frame(inputs: ModelInputs, raw, by_industry, by_park, by_services) -> pd.DataFrame:
    return annual_table([(inputs, raw, by_industry, by_park, by_services)])


def annual_table(runs, replications=None) -> pd.DataFrame:
    """One tidy table for several runs of the same model layout: rows stacked run after run, with
    a leading ``replication`` column when ``replications`` is given. Building one table per chunk
    instead of one per run keeps pandas overhead out of Monte Carlo throughput."""
    inputs = runs[0][0]
    b = inputs.baseline
    raw = np.vstack([r[1] for r in runs])
    rows = [r[1].shape[0] for r in runs]
    data = {}
    if replications is not None:
        data["replication"] = np.repeat(np.asarray(replications, dtype=np.int64), rows)
    data["year"] = np.concatenate([r[0].years for r in runs])
    for k, name in enumerate(ANNUAL):
        data[name] = raw[:, k]
    va = np.repeat([r[0].baseline.va_ratio for r in runs], rows)
    nonsei_va = np.repeat([r[0].baseline.nonsei_va_ratio for r in runs], rows)
    coverage = portable.exp(np.concatenate([r[0].params.economy.coverage_drift * np.arange(n)
                                            for r, n in zip(runs, rows)]))
    data.update(derived_columns(raw, va, nonsei_va, coverage))
    data.update(real_growth_columns(data, rows))
    # The structural variant each run used (ODD 7.16): 1 = converge, 0 = persist.
    data["structure_converge"] = np.repeat(
        [float(r[0].params.structure.variant == "converge") for r in runs], rows)
    by_industry = np.vstack([r[2] for r in runs])
    by_park = np.vstack([r[3] for r in runs])
    by_services = np.vstack([r[4] for r in runs])
    for j, name in enumerate(b.industries):
        data[f"sei_output.industry.{name}"] = by_industry[:, j]
    for q, name in enumerate(b.services):
        data[f"sei_output.industry.{name}"] = by_services[:, q]
    for p, name in enumerate(b.parks):
        data[f"sei_output.park.{name}"] = by_park[:, p]
    return pd.DataFrame(data)
