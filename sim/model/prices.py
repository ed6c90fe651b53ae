"""Price levels: what turns the model's nominal amounts into growth at comparable prices.

The model's outputs are nominal (亿元 of the year), but bulletins publish growth of value added and
GDP at comparable prices. Comparing the two without a price level would count inflation as growth,
so each replication carries two price indices, base year = 1: the industrial producer price level
(deflates industrial value added) and the GDP deflator. Each is a geometric random walk in yearly
steps whose drift and volatility are parameters (``economy.industrial_inflation`` ...).

Prices are exogenous: no process of the model reads them, so they are drawn from their own random
stream (``prices``) after the engine has run, the same way for both engines.
"""

from __future__ import annotations

import numpy as np

from sim.model.params import ModelParams


def price_levels(params: ModelParams, n_years: int, rng: np.random.Generator) -> np.ndarray:
    """(n_years + 1, 2) array: industrial price level and GDP deflator, row 0 (base year) = 1."""
    ec = params.economy
    drift = np.array([ec.industrial_inflation, ec.gdp_inflation])
    sigma = np.array([ec.industrial_inflation_sigma, ec.gdp_inflation_sigma])
    steps = rng.standard_normal((n_years, 2)) * sigma + np.log1p(drift) - 0.5 * sigma ** 2
    levels = np.ones((n_years + 1, 2))
    levels[1:] = np.exp(np.cumsum(steps, axis=0))
    return levels
