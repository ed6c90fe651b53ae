"""Model parameters: every behavioural constant of the model, with its provenance.

Parameters fall in three groups (see ``docs/ODD.md``): figures read from the plan (these are not here;
:mod:`sim.model.baseline` derives them from the plan data), values from the literature (cited in the
field's ``source``), and assumptions that calibration refines (``source`` says "assumption" or
"calibrated"). A parameter set is a YAML mapping with the same nesting as :class:`ModelParams`; only
the keys that differ from the defaults need to be written.

Rates are per year; amounts are in 亿元 (1e8 yuan) of annual output unless stated otherwise.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


def P(default, source: str, description: str, **limits):
    """A parameter field carrying its provenance (``source``) for the ODD tables."""
    return Field(default, description=description, json_schema_extra={"source": source}, **limits)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FirmParams(Section):
    pareto_alpha: float = P(1.2, "literature: Pareto tail 1.0-1.5 for Chinese industrial firms "
                            "(Fang, Yang & Zheng 2021; Axtell 2001 gives 1.06 for US firms)",
                            "tail exponent of the initial firm-size distribution", gt=0.5, le=3)
    above_scale_threshold: float = P(0.2, "statistical definition: 20 million yuan main-business "
                                     "revenue (National Bureau of Statistics, since 2011)",
                                     "output at which a firm enters the above-scale statistics",
                                     gt=0, le=100)
    subscale_ratio: float = P(1.0, "assumption", "sub-threshold SEI firms per above-scale firm at t0 "
                              "(candidates for crossing the threshold)", ge=0, le=20)
    subscale_log_sd: float = P(0.6, "assumption", "log-sd of sub-threshold firm sizes", gt=0, le=5)
    drift: float = P(0.08, "calibrated (default: nominal growth of above-scale SEI output net of "
                     "entry, order of the 2015-2020 national figure)",
                     "expected organic growth rate of a firm's output", ge=-0.5, le=1.0)
    industry_drift: dict[str, float] = P({}, "calibrated", "per-industry additions to `drift`")
    sigma: float = P(0.22, "literature: s.d. of annual log growth of mid-size firms 0.2-0.3 "
                     "(Stanley et al. 1996; Bottazzi & Secchi 2006)",
                     "idiosyncratic volatility of a firm with output `sigma_ref_size`", ge=0, le=2)
    sigma_ref_size: float = P(1.0, "assumption", "reference size for `sigma` (亿元)", gt=0, le=10000)
    sigma_size_elasticity: float = P(0.18, "literature: volatility falls with size with exponent "
                                     "0.15-0.2 (Stanley et al. 1996; Amaral et al. 1997)",
                                     "beta in sigma(y) = sigma * (y / ref)^(-beta)", ge=0, le=1)
    sigma_max: float = P(0.8, "assumption", "cap on the volatility of the smallest firms",
                         gt=0, le=5)
    rd_mean: float | None = P(None, "plan figure (industrial R&D intensity) when given, else 1.5%",
                              "mean R&D intensity of SEI firms (fraction of output)", le=1)
    rd_log_sd: float = P(0.5, "assumption", "log-sd of firm R&D intensity", ge=0, le=5)
    agglomeration: float = P(0.04, "literature: elasticity of productivity to own-industry scale "
                             "in a location 0.02-0.08 (Rosenthal & Strange 2004)",
                             "growth of a firm per unit log-growth of its park-industry cell",
                             ge=0, lt=0.5)
    rd_growth_effect: float = P(0.02, "literature: output elasticity of R&D 0.05-0.15 (Hall, "
                                "Mairesse & Mohnen 2010) scaled to a growth premium",
                                "growth premium per unit of relative R&D intensity (rd/rd_mean-1)",
                                le=10)


class ShockParams(Section):
    macro_sigma: float = P(0.03, "literature: s.d. of Chinese provincial industrial growth "
                           "around trend, 2-4 percentage points (NBS yearbooks)",
                           "s.d. of the common macro growth shock (annual rate)", ge=0,
                           le=1)
    macro_persistence: float = P(0.5, "assumption", "annual autocorrelation of the macro shock",
                                 ge=0, lt=1)
    industry_sigma: float = P(0.06, "literature: industry-level output growth s.d. 5-10 pp "
                              "(NBS industry series)", "s.d. of industry growth shocks", ge=0,
                              le=1)
    industry_persistence: float = P(0.5, "assumption", "annual autocorrelation of industry shocks",
                                    ge=0, lt=1)


class EntryExitParams(Section):
    startup_rate: float = P(0.05, "assumption", "start-ups per year per incumbent firm in a "
                            "park-industry cell", ge=0, le=10)
    startup_floor: float = P(0.2, "assumption", "start-ups per year in a cell with no incumbent "
                             "(keeps new industries reachable)", ge=0, le=1000)
    startup_size: float = P(0.06, "assumption", "median output of a start-up (亿元)", gt=0, le=1000)
    startup_log_sd: float = P(0.8, "assumption", "log-sd of start-up output", ge=0, le=5)
    attraction_rate: float = P(0.03, "assumption (order of the plans' investment-attraction "
                               "drives)", "attracted projects per year per above-scale firm at t0",
                               ge=0, le=10)
    attraction_size: float = P(0.5, "assumption", "minimum output of an attracted project (亿元)",
                               gt=0, le=10000)
    attraction_alpha: float = P(1.3, "assumption (same tail class as firm sizes)",
                                "Pareto tail of attracted-project output", gt=0.5, le=10)
    exit_hazard: float = P(0.08, "literature: annual exit rates of small Chinese industrial firms "
                           "around 5-10% (Brandt, Van Biesebroeck & Zhang 2012)",
                           "annual exit hazard of a firm at the above-scale threshold", ge=0,
                           le=1)
    exit_size_elasticity: float = P(0.35, "literature: exit hazard falls with size "
                                    "(Dunne, Roberts & Samuelson 1989)",
                                    "gamma in hazard(y) = h0 * (y / threshold)^(-gamma)",
                                    ge=0, le=10)


class TalentParams(Section):
    sei_share_of_rd_personnel: float | None = P(
        None, "assumption: equal to the SEI share of industrial output when not given",
        "share of the region's R&D personnel working for SEI firms", le=1)
    persons_per_output: float = P(6.8, "derived from Chongqing 2020 (16.07万 R&D personnel x 32% "
                                  "/ 7600 亿元), used where a plan gives no R&D personnel",
                                  "SEI R&D personnel per 亿元 of SEI output at t0", gt=0, le=10000)
    supply_growth: float = P(0.08, "literature: R&D personnel in China grew 7-9% a year in "
                             "2015-2020 (MOST statistics)", "growth rate of talent inflow",
                             ge=-0.5, le=1)
    attrition: float = P(0.06, "assumption", "share of the talent stock leaving per year", ge=0,
                         le=1)
    productivity_growth: float = P(0.03, "assumption", "yearly fall in R&D personnel needed per "
                                   "unit of output", ge=0, le=1)
    shortage_penalty: float = P(0.0, "none by default: a shortage acts through the R&D firms can "
                                "staff (R&D realised = planned x (1 - shortage), ODD 7.3); a direct "
                                "penalty needs a source", "growth lost per unit of talent shortage "
                                "beyond the R&D it prevents (shortage = 1 - supply/demand)",
                                ge=0, le=10)


class FundParams(Section):
    leverage: float = P(3.5, "literature: guidance funds are designed at 1:3 to 1:4 (Chongqing's "
                        "2014 industrial guidance fund; its SEI equity fund at 1:3); prior U(3, 4). "
                        "A plan's ratio of project investment to fund money is not used: the "
                        "plans print both as lower bounds", "co-investment drawn in per yuan of "
                        "fund money", ge=0, le=50)
    raised_fraction: float = P(0.47, "literature: guidance funds raised 43% (Luong, Arnold & "
                               "Murphy 2021, CSET: 1,741 funds, Q1 2020) to 51% (Zero2IPO, end "
                               "2022) of their target size; prior U(0.43, 0.51)",
                               "share of an announced fund size (or of an increase over the past "
                               "pace) that is actually raised and invested", gt=0, le=1)
    additionality: float = P(0.7, "literature: invested firms raise fixed assets, effects on "
                             "sales unclear (VoxEU/CEPR column on guidance funds); government VC "
                             "crowds out private money in VC-developed provinces and crowds in "
                             "elsewhere (Yang, Li & Wu 2014); prior U(0.4, 1.0)",
                             "share of a fund-backed project's output that would not have been "
                             "produced without the fund (1 - crowding out)", ge=0, le=1)
    project_failure: float = P(0.2, "assumption: one backed project in five never produces; "
                               "prior U(0.1, 0.3)", "probability that a fund-backed project "
                               "never produces (its money is written off)", ge=0, le=1)
    deployment_capacity: float = P(3.0, "assumption: a fund team can close at most three times "
                                   "its usual yearly volume of deals", "deals a fund can close "
                                   "per year, as a multiple of its base annual investment",
                                   gt=0, le=100)
    annual_investment: float | None = P(None, "plan figure: invested amount over the period "
                                        "when given; else a fund exists only if the scenario "
                                        "declares this (with `source`)",
                                        "fund money invested per year (亿元)", gt=0, le=1e+06)
    source: str | None = P(None, "scenario", "where a declared `annual_investment` comes from "
                           "(required when the plan gives no fund figure)")
    ticket: float = P(0.5, "assumption", "fund money per deal (亿元)", gt=0, le=10000)
    output_per_investment: float = P(1.0, "literature: fixed-asset turnover of Chinese "
                                     "manufacturing about 1-2 (NBS); conservative end",
                                     "annual output added per yuan of project investment",
                                     ge=0, le=100)
    deployment_lag: float = P(2.0, "assumption: 1-3 years from investment to production",
                              "years from a deal to its added output", ge=0, le=50)
    holding_period: float = P(5.0, "literature: guidance-fund holding periods of 5-7 years "
                              "(Zero2IPO survey reports)", "years before a stake is exited",
                              gt=0, le=100)
    exit_multiple: float = P(1.0, "assumption (capital preserved)", "cash returned per yuan at "
                             "exit", ge=0, le=100)
    recycle: bool = P(True, "plan: funds recycle capital", "exited cash is reinvested")
    selection_exponent: float = P(0.5, "assumption", "firm selection weight = output^exponent",
                                  ge=0, le=10)


class ParkParams(Section):
    land_headroom: float = P(1.3, "assumption", "park land, in output units, as a multiple of the "
                             "park's target output (or of 2x baseline output without a target)",
                             gt=0, le=100)


class EconomyParams(Section):
    nonsei_growth: float | None = P(None, "plan-implied: growth of non-SEI industrial output "
                                    "between two baseline years when given, else 0.05",
                                    "nominal growth of non-SEI above-scale industrial output on "
                                    "the comparable sample (what published growth rates measure)",
                                    ge=-0.5, le=1)
    coverage_drift: float = P(0.0, "calibrated where level and growth statistics both exist "
                              "(default: none). Published above-scale levels grow more slowly than "
                              "the comparable-sample growth rates published with them, as firms "
                              "leave the sample and data are revised (NBS notes on comparable "
                              "coverage; Chen, Chen, Hsieh & Song 2019 on local overstatement)",
                              "yearly log change of the non-SEI above-scale level not reflected "
                              "in published growth rates (ODD 7.17)", ge=-0.3, le=0.3)
    nonsei_sigma: float = P(0.02, "assumption", "idiosyncratic s.d. of non-SEI output growth",
                            ge=0, le=1)
    services_growth: float = P(0.10, "assumption", "growth of SEI services output", ge=-0.5,
                            le=1)
    services_sigma: float = P(0.03, "assumption", "s.d. of SEI services growth", ge=0, le=1)
    gdp_growth: float = P(0.07, "assumption: nominal GDP growth, 14th Five-Year Plan period",
                          "nominal growth of GDP outside industry (services outside SEI, "
                          "agriculture, construction)", ge=-0.5, le=1)
    gdp_sigma: float = P(0.01, "assumption", "s.d. of that growth", ge=0, le=1)
    industrial_inflation: float = P(0.004, "statistics: China's industrial producer price index "
                                    "2012-2021 averaged about +0.4%/yr (NBS)",
                                    "drift of the industrial price level (deflates industrial "
                                    "value added to comparable prices)", ge=-0.2, le=0.3)
    industrial_inflation_sigma: float = P(0.04, "statistics: the yearly change of China's "
                                          "industrial producer price index 2012-2021 ranged from "
                                          "-5.2% to +8.1%, s.d. about 4 points (NBS)",
                                          "s.d. of the yearly change of the industrial price "
                                          "level", ge=0, le=0.5)
    gdp_inflation: float = P(0.02, "statistics: China's GDP deflator rose about 2%/yr in "
                             "2012-2021 (NBS, nominal vs comparable-price GDP growth)",
                             "drift of the GDP deflator", ge=-0.2, le=0.3)
    gdp_inflation_sigma: float = P(0.015, "assumption (order of the yearly variation of China's "
                                   "GDP deflator 2012-2021)", "s.d. of the yearly change of the "
                                   "GDP deflator", ge=0, le=0.5)
    gdp: float | None = P(None, "official statistics or another plan version where the plan "
                          "gives no GDP share (cite it where it is set)", "GDP (亿元) in "
                          "`gdp_year`; None = derive from the plan", gt=0, le=1e+07)
    gdp_year: int | None = P(None, "with `gdp`", "year of `gdp` (None = the base year); other "
                             "base years are reached at `gdp_growth`")
    va_ratio: float | None = P(None, "plan figure: SEI value added / SEI output when given, "
                               "else 0.28", "value added per unit of SEI output", le=1)
    nonsei_va_ratio: float | None = P(None, "statistics: the ratio at which the base year's "
                                      "SEI share of industrial value added equals the published "
                                      "one, when the statistics give it; else literature: value "
                                      "added / gross output of Chinese industry about 0.25 (NBS "
                                      "input-output tables)", "value added per unit of non-SEI "
                                      "industrial output", gt=0, le=1)


class StructureParams(Section):
    """Whether SEI keep outgrowing the rest of industry: a structural question the data of a few
    years cannot settle, so it is carried as variants (docs/ODD.md, 7.16)."""

    variant: Literal["persist", "converge", "pooled"] = P(
        "persist", "scenario choice", "persist: SEI firms keep their drift; converge: their "
        "excess drift over the rest of industry halves every `half_life` years; pooled: each "
        "replication draws one of the two (weight `converge_weight`)")
    half_life: float = P(5.0, "assumption: industry growth premia fade over 2-10 years "
                         "(prior N(5, 2.5) in the calibration specs)",
                         "years in which the SEI growth premium halves (variant converge)",
                         gt=0, le=100)
    since: int | None = P(None, "calibration spec (the first year of the history it fits)",
                          "calendar year from which the premium fades (None = the base year); "
                          "a forecast from a later base year continues the same fade",
                          ge=1949, le=2100)
    converge_weight: float = P(0.5, "assumption: no evidence favours either variant a priori",
                               "prior weight of the converge variant when pooled", ge=0, le=1)


class AllocationParams(Section):
    """How a baseline is split where the plan gives only totals or size classes."""

    industry_output: dict[str, float] = P({}, "assumption (user-supplied)", "baseline output by "
                                          "industry (亿元), overriding the class-based split")
    unclassed_fraction: float = P(0.5, "assumption", "an industry with no size class gets this "
                                  "fraction of the lowest class floor the plan uses", gt=0, le=1)
    services_top_class_factor: float = P(1.5, "assumption", "a services industry in the top size "
                                         "class gets this multiple of the class floor",
                                         ge=1, le=100)
    attraction_floor: float = P(0.02, "assumption", "minimum share of attracted projects going to "
                                "each industry (keeps future industries reachable)", ge=0, le=0.2)
    more_than_margin: float = P(0.10, "assumption: official texts round down to the next round "
                                "number ('more than 1000 firms', 'over 130 亿元'), so the value "
                                "lies between it and the next step up", "a 'more than' / 'at "
                                "least' baseline X is drawn per replication in [X, X(1+margin)]",
                                ge=0, le=1)
    about_margin: float = P(0.05, "assumption: 'about X' rounds to X's last printed digit or so",
                            "an 'about' baseline X is drawn per replication in X(1 +- margin)",
                            ge=0, le=1)
    figure_factors: dict[str, float] = P({}, "drawn per replication (Monte Carlo)", "multipliers "
                                         "of qualified baseline figures by figure id; empty = "
                                         "the printed values (a single run)")
    gdp_industry_share: float = P(0.31, "statistics: industry value added was 31% of China's GDP "
                                  "in 2020 (NBS)", "used to infer GDP where neither the plan nor "
                                  "the parameter set gives it",
                                  gt=0, le=1)


class ModelParams(Section):
    """All behavioural parameters; defaults are the documented values in docs/ODD.md."""

    steps_per_year: int = P(4, "assumption", "time steps per year", ge=1, le=52)
    firms: FirmParams = FirmParams()
    shocks: ShockParams = ShockParams()
    entry_exit: EntryExitParams = EntryExitParams()
    talent: TalentParams = TalentParams()
    funds: FundParams = FundParams()
    parks: ParkParams = ParkParams()
    economy: EconomyParams = EconomyParams()
    structure: StructureParams = StructureParams()
    allocation: AllocationParams = AllocationParams()

    def updated(self, *overrides: dict) -> ModelParams:
        """A copy with nested ``overrides`` applied, each over the ones before it, then validated
        once (fields are validated one by one, so this equals applying them one at a time).

        Only the sections the overrides touch are dumped and validated; the others are shared
        with this copy (sections are immutable and validated on their own, with no check across
        sections). A Monte Carlo run calls this once per parameter draw, usually touching two or
        three of the ten sections. Anything else (a top-level value, an unknown key, an invalid
        value) goes through the whole model, so errors read as they always have."""
        touched = {key for layer in overrides for key in layer}
        if not touched <= _SECTIONS.keys():
            return self._updated_whole(overrides)
        merged = {key: getattr(self, key).model_dump() for key in touched}
        for layer in overrides:
            merged = _merge(merged, layer)
        try:
            sections = {key: _SECTIONS[key].model_validate(value)
                        for key, value in merged.items()}
        except ValidationError:
            return self._updated_whole(overrides)
        return self.model_copy(update=sections)

    def _updated_whole(self, overrides: tuple[dict, ...]) -> ModelParams:
        merged = self.model_dump()
        for layer in overrides:
            merged = _merge(merged, layer)
        return ModelParams.model_validate(merged)


#: The sections of :class:`ModelParams` by field name.
_SECTIONS: dict[str, type[Section]] = {
    name: field.annotation for name, field in ModelParams.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, Section)}


def _merge(base: dict, overrides: dict) -> dict:
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in KEYED_MAPS:
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


#: The one registry of parameters whose value is a mapping keyed by plan ids, with what the keys
#: name: each is merged and dotted as a single value, and its keys are checked against the plan.
KEYED_MAPS: dict[str, str] = {"industry_drift": "industry", "industry_output": "industry",
                              "figure_factors": "figure"}
#: The keyed maps whose keys are plan industries.
INDUSTRY_MAPS = frozenset(k for k, what in KEYED_MAPS.items() if what == "industry")


#: Parameters the data cannot pin down, drawn per replication from these uniform priors (low,
#: high) in Monte Carlo unless a scenario or a fitted set fixes them; a single run uses the
#: field's default (the prior's centre). Sources are in the fields' descriptions.
PRIORS: dict[str, tuple[float, float]] = {
    "funds.leverage": (3.0, 4.0),
    "funds.raised_fraction": (0.43, 0.51),
    "funds.additionality": (0.4, 1.0),
    "funds.project_failure": (0.1, 0.3),
}


def nested_override(dotted: str, value) -> dict:
    """``"firms.drift", 0.1`` -> ``{"firms": {"drift": 0.1}}`` (the form ``updated`` takes)."""
    out: dict = {}
    node = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def dotted_keys(nested: dict, prefix: str = "") -> list[str]:
    """``{"firms": {"drift": 0.1}}`` -> ``["firms.drift"]`` (leaf dictionaries kept whole)."""
    out = []
    for key, value in nested.items():
        name = prefix + str(key)
        if isinstance(value, dict) and key not in KEYED_MAPS:
            out.extend(dotted_keys(value, name + "."))
        else:
            out.append(name)
    return out


def merge_nested(base: dict, override: dict) -> dict:
    """Recursive merge of nested mappings; values in ``override`` win."""
    out = dict(base)
    for key, value in override.items():
        out[key] = (merge_nested(out[key], value)
                    if isinstance(value, dict) and isinstance(out.get(key), dict) else value)
    return out
