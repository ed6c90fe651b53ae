"""Monte Carlo results as labelled arrays (xarray), with units and long names.

A run directory stores tidy tables (one row per replication and year); tools built on xarray
(netCDF files, climate-style fan charts, ``ds.quantile("replication")``) expect arrays with named
dimensions and per-variable ``units`` and ``long_name``. Units come from the indicator registry
(:mod:`sim.plans.indicators`) where an indicator is simulated by the column, else from the column
definitions of the annual table (``docs/ODD.md``, "Observation").
"""

from __future__ import annotations

import pandas as pd

from sim.plans.indicators import INDICATORS

#: Annual-table columns that simulate no plan indicator: (units, long name). Units use the
#: registry's vocabulary ("亿元" = 100 million yuan); "1" marks a dimensionless number.
ANNUAL_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "sei_industrial_output": ("亿元", "output of above-scale SEI industrial firms (year total)"),
    "nonsei_output_comparable": ("亿元", "non-SEI above-scale industrial output on the "
                                         "comparable (same-sample) basis of published growth "
                                         "rates"),
    "sei_services_output": ("亿元", "SEI services output (year total)"),
    "gdp_rest": ("亿元", "GDP outside industry"),
    "firms_over_10": ("firms", "SEI firms with output of 10 亿元 or more (year end)"),
    "firms_over_100": ("firms", "SEI firms with output of 100 亿元 or more (year end)"),
    "alive_firms": ("firms", "living SEI firms, below the size threshold included (year end)"),
    "talent_stock": ("persons", "SEI R&D talent stock (year end)"),
    "talent_demand": ("persons", "SEI R&D talent demand (year end)"),
    "talent_shortage": ("1", "talent shortage, share of demand unmet (year average)"),
    "fund_invested": ("亿元", "fund money placed in deals"),
    "co_investment": ("亿元", "co-investment drawn in by fund deals"),
    "fund_cash": ("亿元", "uninvested fund cash (year end)"),
    "fund_stakes": ("亿元", "fund money held in firms (year end)"),
    "fund_exit_proceeds": ("亿元", "cash returned to funds at exits"),
    "fund_writeoffs": ("亿元", "fund stakes lost with failed projects and exiting firms"),
    "fund_projects_failed": ("count", "fund-backed projects that failed"),
    "fund_deals_blocked": ("count", "fund deals that found no park land"),
    "entries_startup": ("firms", "start-ups added"),
    "entries_attracted": ("firms", "attracted projects added"),
    "entries_blocked": ("firms", "entrants refused for lack of land"),
    "entries_dropped": ("firms", "entrants refused because the firm table was full"),
    "exits": ("firms", "firms exited"),
    "crossings": ("firms", "incumbents that crossed the above-scale threshold"),
    "macro_shock": ("1/yr", "macroeconomic growth shock (year average)"),
    "industrial_price_level": ("1", "industrial price index, base year = 1"),
    "gdp_price_level": ("1", "GDP price index, base year = 1"),
    "sei_output_total": ("亿元", "SEI output, industry and services"),
    "sei_output_share_incl_services": ("%", "SEI output with services as a share of above-scale "
                                            "industrial output"),
    "sei_industrial_value_added": ("亿元", "value added of SEI industrial firms"),
    "industrial_value_added_comparable": ("亿元", "industrial value added on the comparable "
                                                  "(same-sample) basis"),
    "sei_industrial_value_added_growth": ("%", "growth of SEI industrial value added at "
                                               "comparable prices"),
    "industrial_value_added_growth": ("%", "growth of industrial value added at comparable "
                                           "prices"),
    "gdp_growth": ("%", "GDP growth at comparable prices"),
    "structure_converge": ("1", "structural variant of the replication: 1 converge, 0 persist"),
}


def column_attributes(column: str) -> dict[str, str]:
    """``units`` and ``long_name`` of an annual-table column."""
    if column in ANNUAL_ATTRIBUTES:
        units, name = ANNUAL_ATTRIBUTES[column]
        return {"units": units, "long_name": name}
    for ind in INDICATORS.values():
        if ind.column == column:
            return {"units": ind.canonical_unit, "long_name": ind.meaning}
    kind, _, unit = column.partition(".")[2].partition(".")
    if column.startswith("sei_output.") and kind in ("industry", "park"):
        return {"units": "亿元", "long_name": f"SEI output of {kind} {unit} (year total)"}
    return {"units": "", "long_name": column.replace("_", " ")}


def annual_dataset(annual: pd.DataFrame, outcomes: pd.DataFrame, specs) -> "xarray.Dataset":
    """One scenario's annual table and target outcomes as a Dataset: every annual column a
    variable on (replication, year); ``target_value`` and ``target_met`` on (target, replication)
    for the simulated targets, with each target's year, threshold and unit as coordinates."""
    from sim.compat import optional_import

    xr = optional_import("xarray", "xarray", "to_xarray()")
    columns = [c for c in annual.columns if c not in ("replication", "year")]
    wide = annual.set_index(["replication", "year"]).sort_index()
    replications = wide.index.get_level_values(0).unique()
    years = wide.index.get_level_values(1).unique().sort_values()
    full = pd.MultiIndex.from_product([replications, years], names=["replication", "year"])
    wide = wide.reindex(full)
    shape = (len(replications), len(years))
    data = {c: (("replication", "year"), wide[c].to_numpy().reshape(shape), column_attributes(c))
            for c in columns}
    simulated = [s for s in specs if s.simulated]
    coords = {"replication": replications.to_numpy(), "year": years.to_numpy()}
    if simulated:
        ids = [s.id for s in simulated]
        value = (outcomes.pivot(index="target", columns="replication", values="value")
                 .reindex(index=ids, columns=replications)) if len(outcomes) else \
            pd.DataFrame(float("nan"), index=ids, columns=replications)
        thresholds = pd.Series([s.threshold if s.threshold is not None else float("nan")
                                for s in simulated], index=ids)
        met = value.ge(thresholds, axis=0).astype(float).where(
            value.notna() & thresholds.notna().to_numpy()[:, None])
        units = [s.unit for s in simulated]
        data["target_value"] = (("target", "replication"), value.to_numpy(), {
            "units": units[0] if len(set(units)) == 1 else "see target_unit",
            "long_name": "simulated value of the target's quantity in the target year"})
        data["target_met"] = (("target", "replication"), met.to_numpy(), {
            "units": "1", "long_name": "1 when the value reaches the target's threshold, 0 when "
                                       "not, NaN when the plan sets no level"})
        coords.update(target=ids,
                      target_year=("target", [s.year for s in simulated]),
                      threshold=("target", thresholds.to_numpy()),
                      target_unit=("target", units))
    return xr.Dataset(data, coords=coords)


def comparison_dataset(datasets: dict) -> "xarray.Dataset":
    """Several scenarios' Datasets stacked along a ``scenario`` dimension (outer join: a variable
    or target one scenario lacks is NaN there)."""
    from sim.compat import optional_import

    xr = optional_import("xarray", "xarray", "to_xarray()")
    labels = pd.Index(list(datasets), name="scenario")
    return xr.concat(list(datasets.values()), dim=labels, data_vars="all", coords="different",
                     compat="equals", join="outer")
