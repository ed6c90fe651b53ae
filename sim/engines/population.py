"""Synthetic firm population matching a :class:`~sim.model.baseline.Baseline` exactly.

Firm sizes are heavy-tailed (Pareto with tail ``firms.pareto_alpha``). Counts and sizes are drawn per
park-industry cell and then fitted so that

* every cell's above-scale output equals the baseline cell output (hence industry and park totals
  are exact),
* every above-scale firm is at or above the statistical threshold (a cell whose whole output is
  below the threshold gets one firm of that output, which the statistics then miss),
* exactly the plan's number of very large firms (e.g. 百亿级) exceed their threshold where the plan
  gives that count and the cell outputs allow it.

Sub-threshold firms (candidates for crossing into the statistics) are added on top; they do not count
in the baseline figures because the statistics ignore them.

The work is compiled (``sim.engines.kernel``: ``population_layout``, ``fit_sizes``,
``synthesize_population``) and runs inside the batched kernel call, once per replication; this
module is its Python face. :func:`population_layout` is the seed-independent part (firms and very
large firms per cell), computed once per configuration; :func:`build_population` draws one
population with a generator, exactly as both engines do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import sim.portable as portable
from sim.engines import kernel
from sim.model.baseline import Baseline
from sim.model.params import ModelParams


@dataclass
class Population:
    """Initial firm columns (one entry per firm)."""

    output: np.ndarray     # 亿元 per year
    industry: np.ndarray   # index into Baseline.industries
    park: np.ndarray       # index into Baseline.parks
    rd: np.ndarray         # R&D intensity (fraction of output)
    age: np.ndarray        # years
    notes: list[str]

    def __len__(self) -> int:
        return len(self.output)


@dataclass(frozen=True)
class PopulationLayout:
    """What every replication's population of one configuration shares (ODD 5.3 steps 1-3)."""

    cell_output: np.ndarray   # (P, J) 亿元: what each cell's above-scale firms must add up to
    counts: np.ndarray        # (P, J) above-scale firms per cell
    bigs: np.ndarray          # (P, J) very large firms among them
    n_above: int              # firms in cells with output (the fitted ones)
    n_sub: int                # sub-threshold firms added on top
    vector: np.ndarray        # kernel.POPULATION
    notes: tuple[str, ...]

    @property
    def n_firms(self) -> int:
        return self.n_above + self.n_sub


def population_layout(baseline: Baseline, params: ModelParams) -> PopulationLayout:
    """Counts and very large firms per cell (compiled), the notes they imply, and the vector of
    population parameters the kernel reads."""
    fp = params.firms
    thr = float(fp.above_scale_threshold)
    cell = np.ascontiguousarray(baseline.cell_output, dtype=float)
    big = baseline.big_firm_threshold
    n_big = baseline.big_firms if big is not None else 0
    big_below = np.nan if big is None else float(np.nextafter(big, 0))
    counts, bigs, unplaced, lifted, n_above = kernel.population_layout(
        cell, int(baseline.above_scale_firms), np.nan if big is None else float(big), big_below,
        int(n_big), thr)
    notes: list[str] = []
    if unplaced:
        notes.append(f"{unplaced} of {baseline.big_firms} firms above {big:g} 亿元 could not "
                     "be placed within the cell outputs")
    if big is not None:
        for p, j in zip(*np.nonzero(lifted)):
            notes.append(f"cell {baseline.parks[p]}/{baseline.industries[j]}: output too large "
                         f"for {int(bigs[p, j])} firms above {big:g}; more are allowed")
    n_above = int(n_above)
    n_sub = int(round(fp.subscale_ratio * n_above))
    vector = kernel.pack_population({
        "thr": thr, "pareto_alpha": fp.pareto_alpha, "subscale_log_sd": fp.subscale_log_sd,
        "rd_mean": baseline.rd_mean, "rd_log_sd": fp.rd_log_sd,
        "big": np.nan if big is None else float(big), "big_below": big_below, "n_sub": n_sub})
    return PopulationLayout(cell, counts, bigs, n_above, n_sub, vector, tuple(notes))


def synthesize(layout: PopulationLayout, rng: np.random.Generator, logy, industry, park, rd, age,
               alive) -> int:
    """Draw one population into the first slots of the given firm columns (compiled); returns the
    number of firms. ``rng`` advances by the draws, as if numpy had made them."""
    state = kernel.stream_state(rng)
    n = int(kernel.synthesize_population(layout.vector, layout.cell_output, layout.counts,
                                         layout.bigs, state, logy, industry, park, rd, age, alive))
    kernel.set_stream_state(rng, state)
    return n


def build_population(baseline: Baseline, params: ModelParams, rng: np.random.Generator
                     ) -> Population:
    """Draw a synthetic firm population for ``baseline`` (see module docstring): the population
    both engines start from with this generator."""
    layout = population_layout(baseline, params)
    n = layout.n_firms
    logy, rd, age = np.zeros(n), np.zeros(n), np.zeros(n)
    industry, park = np.zeros(n, np.int64), np.zeros(n, np.int64)
    alive = np.zeros(n, np.int8)
    synthesize(layout, rng, logy, industry, park, rd, age, alive)
    return Population(portable.exp(logy), industry, park, rd, age, list(layout.notes))
