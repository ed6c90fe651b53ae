"""Connectors: the model as other tools expect it.

Everything here reproduces a Monte Carlo replication exactly, so an analysis run through another
tool samples the same distribution as :func:`sim.monte_carlo`:

- :mod:`sim.connectors.replication`: one replication as the Monte Carlo runner makes it
  (``sim.replicate``), and which targets are scenarios (``sim.run`` with a scenario);
- :mod:`sim.connectors.ema`: a ready EMA Workbench model (``sim.ema_model``);
- :mod:`sim.connectors.mesa_batch`: a Mesa model class for ``mesa.batch_run``
  (``sim.SEIRegion``).

The layer sits above the experiments (it uses their seeding) and below the public API.
"""
