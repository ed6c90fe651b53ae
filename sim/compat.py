"""The one place that knows which generation of Mesa and EMA Workbench is installed.

Python 3.11 gets Mesa < 3.4 and EMA Workbench 2.x; Python 3.12 and newer get the current releases
(``pyproject.toml`` environment markers). Code elsewhere calls the helpers here instead of checking
versions itself.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version


def installed_version(package: str) -> tuple[int, ...]:
    """Major, minor (and patch) of an installed distribution, as integers."""
    parts = []
    for part in version(package).split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def optional_import(module: str, extra: str, used_by: str):
    """Import ``module`` from an optional extra, or stop with a one-line hint naming the extra."""
    import importlib

    from sim.errors import InputError

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{used_by} needs the '{extra}' extra: pip install 'seisim[{extra}]'"
                         ) from None


def prim_finder(x, y, *, threshold: float, mass_min: float, peel_alpha: float):
    """EMA Workbench's PRIM on cases ``x`` and binary outcome ``y``. EMA Workbench 2.x takes the
    box density ``threshold`` at construction; 3.x dropped it (the caller then picks a box on the
    peeling trajectory by density, as :func:`sim.analysis.discovery.choose_box` does anyway)."""
    prim = optional_import("ema_workbench.analysis.prim", "discovery", "seisim discover")

    kwargs = {"mass_min": mass_min, "peel_alpha": peel_alpha}
    if "threshold" in inspect.signature(prim.Prim.__init__).parameters:
        kwargs["threshold"] = threshold
    return prim.Prim(x, y, **kwargs)


def batch_run_kwargs(parameters: dict, seed: int) -> dict:
    """Keyword arguments for ``mesa.batch_run`` that hand the Monte Carlo ``seed`` to the model's
    ``seed`` argument on either Mesa generation: Mesa 3.4 and newer pass their ``rng`` values as
    ``seed`` (and overwrite one given in ``parameters``), Mesa 3.3 passes ``parameters`` only."""
    import mesa

    if "rng" in inspect.signature(mesa.batch_run).parameters:
        return {"parameters": dict(parameters), "rng": [seed]}
    return {"parameters": {**parameters, "seed": seed}, "iterations": 1}


def ema_scenario(name: str, **values):
    """A designed EMA Workbench scenario (a point in uncertainty space): 2.x calls the class
    ``Scenario``, 3.x ``Sample``."""
    ema = optional_import("ema_workbench", "discovery", "sim.ema_scenarios")
    point = getattr(ema, "Scenario", None) or ema.Sample
    return point(name, **values)
