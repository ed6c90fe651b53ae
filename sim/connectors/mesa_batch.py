"""A Mesa model class of a scenario, ready for ``mesa.batch_run``.

``mesa.batch_run`` builds a model from keyword arguments, steps it while ``model.running`` and
reads the model's ``DataCollector`` by step. :class:`SEIRegion` is the reference Mesa engine
(:class:`~sim.engines.mesa_engine.RegionModel`) wrapped that way:

- its constructor takes the scenario, the replication index, the Monte Carlo seed and lever values
  as keyword arguments, so each is a batch-run parameter;
- one ``step()`` is one simulated year (the engine's sub-year steps inside); ``running`` turns
  False at the horizon;
- the data collector records once after each year (not at construction): Mesa 3.3's batch runner
  reads record ``model.steps - 1``, newer ones the last recorded one, so both get the final year.
  Reporters: ``year``, every simulated target's value in its year (NaN before) and ``<target>_met``
  (0/1), and a few headline columns of the annual table.

Replication ``r`` with seed ``s`` is replication ``r`` of ``sim.monte_carlo(scenario, seed=s)``
(parameters drawn by :func:`~sim.connectors.replication.replication_inputs`), run on the Mesa
engine, whose trajectories equal the numba kernel's to rounding.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from sim.connectors.replication import (check_replication, lever_overrides,
                                        replication_inputs, scenario_specs, target_values)
from sim.engines.mesa_engine import RegionModel
from sim.engines.numba_engine import draw_price_levels
from sim.engines.state import annual_frame, finish_run
from sim.experiments.seeding import check_seed, replication_seed
from sim.model.inputs import random_streams

#: Annual-table columns reported each year besides the targets.
HEADLINE_COLUMNS = ("sei_output_share", "sei_industrial_output", "total_industrial_output",
                    "above_scale_firms", "talent_shortage", "fund_invested")


def _scenario(scenario):
    """A Scenario from what a batch-run parameter can hold (an object, a name or a path)."""
    from sim.connectors.replication import scenario_target
    from sim.errors import InputError

    found = scenario_target(scenario)
    if found is None:
        raise InputError(f"SEIRegion needs a scenario (a name such as 'fuling-baseline', a "
                         f"scenario file or a Scenario), got {scenario!r}")
    return found


class SEIRegion(RegionModel):
    """Replication ``replication`` of a scenario's Monte Carlo with ``seed``, as a Mesa model
    stepping one year at a time.

    ``scenario``: a Scenario, a scenario name or a scenario YAML path. ``seed``: the Monte Carlo
    seed (default: the scenario's ``monte_carlo.seed``). Levers as keyword arguments
    (``fund_scale``, ``fund_leverage``, ``talent_supply``, ``talent_supply_growth``,
    ``attraction``, ``rd_policy``) and/or ``levers={"levers.fund.allocation": {...}, ...}``
    override the scenario's. ``params`` (dotted key -> value) fixes parameters after the draws.

    On Mesa 3.4 and newer, ``batch_run`` passes its ``rng`` values (``None`` per iteration when
    given ``iterations``) as ``seed``, replacing a ``seed`` in ``parameters``: pass the seed as
    ``rng=[seed]`` there, or use :func:`sim.compat.batch_run_kwargs`, which does the right thing
    on either generation.
    """

    def __init__(self, scenario="fuling-baseline", replication: int = 0, seed: int | None = None,
                 *, levers: dict | None = None, params: dict | None = None,
                 record_firms: bool = False, **lever_values):
        sc = _scenario(scenario)
        overrides = lever_overrides({**(levers or {}), **lever_values})
        if overrides:
            sc = sc.with_overrides(overrides)
        self.scenario = sc
        self.replication = check_replication(replication)
        self.mc_seed = check_seed(sc.spec.monte_carlo.seed if seed is None else seed)
        inputs = replication_inputs(sc, self.replication, self.mc_seed, params)
        sequence = replication_seed(self.mc_seed, self.replication)
        super().__init__(inputs, sequence, record_firms)
        # Price levels are drawn after a run by run_engine, from their own stream; drawing them
        # first lets every year's reported row be complete (growth at comparable prices).
        # The engines' own function, so the levels are theirs to the last bit.
        draw_price_levels(inputs, random_streams(sequence, ("prices",))["prices"], self.arrays[0])
        self.specs = [s for s in scenario_specs(sc) if s.simulated]
        self._row_cache: tuple[int, dict] | None = None
        reporters = {"year": lambda m: int(m.inputs.years[m.year_row])}
        for spec in self.specs:
            reporters[spec.id] = self._target_reporter(spec.id)
            if spec.evaluable:
                reporters[spec.id + "_met"] = self._met_reporter(spec.id, spec.threshold)
        for column in HEADLINE_COLUMNS:
            reporters[column] = self._column_reporter(column)
        # Replaces the engine's collector (which records at t0 and each year end): the engine's
        # year-end collect now records these reporters, once per step of this class.
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.running = inputs.n_years > 0

    @property
    def year_row(self) -> int:
        """Row of the annual table of the last completed year (0 = base year)."""
        return self.step_index // self.inputs.steps_per_year

    def step(self) -> None:
        """One simulated year."""
        for _ in range(self.inputs.steps_per_year):
            super().step()
        if self.step_index >= self.inputs.n_steps:
            self.running = False

    def run(self) -> None:
        while self.running:
            self.step()

    def annual_so_far(self):
        """The annual table up to the last completed year."""
        with np.errstate(all="ignore"):  # rows of years not yet simulated are zeros
            table = annual_frame(self.inputs, *self.arrays[:4])
        return table.iloc[:self.year_row + 1]

    def _current(self) -> dict:
        if self._row_cache is None or self._row_cache[0] != self.step_index:
            annual = self.annual_so_far()
            row = annual.iloc[-1].to_dict()
            row.update(targets=target_values(annual, self.specs))
            self._row_cache = (self.step_index, row)
        return self._row_cache[1]

    @staticmethod
    def _target_reporter(target: str):
        return lambda m: m._current()["targets"][target]

    @staticmethod
    def _met_reporter(target: str, threshold: float):
        def met(m):
            value = m._current()["targets"][target]
            return math.nan if math.isnan(value) else float(value >= threshold)
        return met

    @staticmethod
    def _column_reporter(column: str):
        return lambda m: float(m._current()[column])

    def run_result(self):
        """The finished run as the engines return it (``.annual``: one row per year), equal to
        ``sim.replicate(scenario, replication, seed, engine="mesa")``."""
        return finish_run(self.inputs, self.firm_state(), self.arrays)
