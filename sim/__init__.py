"""seisim: agent-based Monte Carlo simulation for judging regional strategic-emerging-industry plans.

>>> import sim
>>> result = sim.run("fuling", seed=1)
>>> result.annual[["year", "sei_output_share"]]
"""

from sim._version import __version__  # noqa: E402

from sim.api import (backtest, compare, discover, load_scenario, mesa_model,  # noqa: E402
                     monte_carlo, run, sensitivity, solve, sweep)
from sim.model.levers import GrowthShock, Levers  # noqa: E402
from sim.model.params import ModelParams  # noqa: E402

__all__ = ["GrowthShock", "Levers", "ModelParams", "backtest", "compare", "discover", "load_scenario",
           "mesa_model", "monte_carlo", "run", "sensitivity", "solve", "sweep", "__version__"]

# Connectors: one Monte Carlo replication, EMA Workbench and mesa.batch_run (docs/connectors.md).
from sim.api import ema_model, ema_scenarios, replicate  # noqa: E402

__all__ += ["SEIRegion", "ema_model", "ema_scenarios", "replicate"]


def __getattr__(name: str):
    # SEIRegion subclasses mesa.Model: imported on first use, so `import sim` does not load Mesa.
    if name == "SEIRegion":
        from sim.connectors.mesa_batch import SEIRegion

        return SEIRegion
    raise AttributeError(f"module 'sim' has no attribute '{name}'")
