"""Policy levers: what a planner can change, as the model sees it.

Scenario files (``sim.scenarios``) set these; they are also usable directly from Python:
``sim.run("fuling", levers=Levers(fund={"scale": 2}))``. A lever is a change relative to the calibrated
status quo, so the all-defaults ``Levers()`` is the baseline.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class GrowthShock(BaseModel):
    """A temporary shift of every growth rate (a recession when negative)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    start: int = Field(description="first calendar year affected")
    end: int = Field(description="last calendar year affected (inclusive)")
    growth_shift: float = Field(description="added to all growth rates, per year (-0.05 = -5 pp)",
                                ge=-1, le=1)
    sei_only: bool = Field(False, description="shift only SEI firms' growth: a level shift of SEI "
                           "output, e.g. firms reclassified into SEI when a series changes "
                           "definition")

    @field_validator("end")
    @classmethod
    def _ordered(cls, end, info):
        start = info.data.get("start")
        if start is not None and end < start:
            raise ValueError(f"end year {end} is before start year {start}")
        return end


class FundLevers(BaseModel):
    """The government equity funds (ODD 7.9)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    scale: float = Field(1.0, ge=0, le=1000, description="multiplier on the funds' annual "
                         "investment")
    leverage: float | None = Field(None, ge=0, le=100, description="co-investment drawn per fund "
                                   "yuan; None keeps the plan-derived value")
    allocation: dict[str, float] | None = Field(None, description="relative weights of "
                                                "industries in fund deals; None = by output")

    @field_validator("allocation")
    @classmethod
    def _non_negative_weights(cls, weights):
        if weights is not None:
            for key, w in weights.items():
                if w < 0:
                    raise ValueError(f"weight of '{key}' is negative")
            if sum(weights.values()) <= 0:
                raise ValueError("weights must not all be zero")
        return weights


class TalentLevers(BaseModel):
    """The talent supply (ODD 7.12)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    supply: float = Field(1.0, ge=0, le=100, description="multiplier on the talent inflow")
    supply_growth: float | None = Field(None, ge=-0.5, le=1.0, description="growth rate of the "
                                        "talent inflow; None keeps the parameter")


class ParkLevers(BaseModel):
    """Industrial park land (ODD 5.1 rule 9)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    expansion: dict[str, float] = Field({}, description="extra land per park as a fraction of "
                                        "its land (0.5 = +50%); key 'all' for every park")

    @field_validator("expansion")
    @classmethod
    def _non_negative_land(cls, expansion):
        for key, value in expansion.items():
            if value < -1:
                raise ValueError(f"park '{key}' cannot lose more than all its land")
        return expansion


class Levers(BaseModel):
    """Every lever, in the shape a scenario file writes them (``levers.fund.scale``), which is
    also the dotted key that sweeps, sensitivity factors and the dashboard use."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    fund: FundLevers = FundLevers()
    talent: TalentLevers = TalentLevers()
    attraction: float = Field(1.0, ge=0, le=100, description="multiplier on the rate of attracted "
                              "projects (招商引资)")
    parks: ParkLevers = ParkLevers()
    rd_policy: float = Field(1.0, gt=0, le=100, description="multiplier on firms' R&D intensity")
    shocks: tuple[GrowthShock, ...] = ()


def scalar_lever_keys() -> dict[str, str]:
    """Identifier -> dotted scenario key of every number-valued lever (``fund_scale`` ->
    ``levers.fund.scale``), derived from :class:`Levers`: the names connectors need where dots
    cannot go (Mesa model keyword arguments, EMA Workbench lever names). Mapping-valued levers
    (fund allocation, park expansion) are set through their dotted keys."""
    out = {}

    def walk(model, path):
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, path + (name,))
            elif annotation in (float, float | None):
                out["_".join(path + (name,))] = "levers." + ".".join(path + (name,))

    walk(Levers, ())
    return out
