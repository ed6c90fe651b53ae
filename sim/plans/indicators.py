"""The indicator vocabulary: every quantity a plan file may state, defined once.

Plans state their baselines and targets in many forms: SEI output or industrial value added, shares of
output or of GDP, counts of firms by status or size, counts of clusters by class. Each form is one
:class:`Indicator` here, with its units, what kind of number it is, what it is a share of, and which
column of the model's annual table simulates it (or why nothing does). The plan loader validates
figures against this registry, the audit reads its share definitions, target evaluation reads its
columns, and the indicator table in ``docs/plan-format.md`` is generated from it
(``python -m sim.plans.indicators``), so the four never disagree.

A misspelt indicator gets a suggestion only when it is a spelling slip of one indicator, word for
word: ``industrial_value_aded`` suggests ``industrial_value_added``; ``industrial_value_added``
never suggests ``sei_value_added``, a different concept.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.errors import nearest_concept

#: Units a figure may be written in, and the factor to the indicator's canonical unit.
UNIT_FACTORS: dict[str, tuple[str, float]] = {
    "亿元": ("亿元", 1.0),
    "万亿元": ("亿元", 1e4),
    "万元": ("亿元", 1e-4),
    "%": ("%", 1.0),
    "firms": ("firms", 1.0),
    "persons": ("persons", 1.0),
    "万人": ("persons", 1e4),
    "count": ("count", 1.0),
    "index": ("index", 1.0),
}

AMOUNT = ("亿元", "万亿元", "万元")
PEOPLE = ("persons", "万人")

#: Kinds of number: an ``amount`` (a level in money), a ``share`` (0-100 % of something), a
#: ``growth`` rate (may be negative), a ``count`` (firms, clusters, platforms), a ``class`` (a size
#: class floor), an ``index`` (a composite score), a ``flow`` (summed over a period).
KINDS = ("amount", "share", "growth", "count", "class", "index", "flow")


@dataclass(frozen=True)
class Indicator:
    """One quantity a plan may state."""

    id: str
    units: tuple[str, ...]
    kind: str
    meaning: str
    #: annual-table column that simulates the region figure, or None (then ``reason`` says why)
    column: str | None = None
    reason: str = ""
    #: for shares: (numerator indicator, denominator indicator); the audit checks a figure stated
    #: both as an amount and as a share against the denominator they imply
    share_of: tuple[str, str] | None = None
    needs_threshold: bool = False
    #: industries and parks the model simulates one by one carry this indicator's lines
    by_unit: bool = False

    @property
    def canonical_unit(self) -> str:
        return UNIT_FACTORS[self.units[0]][0]

    @property
    def signed(self) -> bool:
        return self.kind == "growth"

    @property
    def additive(self) -> bool:
        """Industry or park lines add up to the region figure."""
        return self.kind in ("amount", "count", "flow")


def _i(id, units, kind, meaning, **kw) -> Indicator:
    return Indicator(id, units if isinstance(units, tuple) else (units,), kind, meaning, **kw)


NOT_STATUS = "firm status ({}) is not modelled: the model's firms have output, not labels"

_ALL = [
    # SEI output and value added ---------------------------------------------------------------
    _i("sei_output", AMOUNT, "amount", "gross output value (产值) of above-scale SEI; scope region, "
       "industry or park", column="sei_industrial_output", by_unit=True),
    _i("sei_output_share", "%", "share", "SEI output as a share of above-scale industrial output",
       column="sei_output_share", share_of=("sei_output", "industrial_output")),
    _i("sei_value_added", AMOUNT, "amount", "value added (增加值) of SEI, industry and services",
       column="sei_value_added"),
    _i("sei_value_added_share_gdp", "%", "share", "SEI value added as a share of GDP",
       column="sei_value_added_share_gdp", share_of=("sei_value_added", "gdp")),
    _i("sei_share_of_industrial_value_added", "%", "share",
       "SEI (manufacturing) share of industrial value added",
       column="sei_share_of_industrial_value_added"),
    _i("sei_output_growth", "%", "growth", "year-on-year growth of SEI output",
       reason="growth-rate targets are not evaluated"),
    _i("sei_value_added_growth", "%", "growth", "year-on-year growth of SEI value added",
       reason="growth-rate targets are not evaluated"),
    # The whole of industry --------------------------------------------------------------------
    _i("industrial_output", AMOUNT, "amount", "gross output of all above-scale industrial firms",
       column="total_industrial_output"),
    _i("industrial_value_added", AMOUNT, "amount",
       "value added of all industry (全部工业增加值), above-scale and below", column="industrial_value_added"),
    _i("above_scale_industrial_value_added", AMOUNT, "amount",
       "value added of above-scale industrial firms (规上工业增加值)", column="industrial_value_added"),
    _i("industrial_value_added_share_gdp", "%", "share",
       "industrial value added as a share of GDP", column="industrial_value_added_share_gdp",
       share_of=("industrial_value_added", "gdp")),
    _i("industrial_value_added_growth", "%", "growth",
       "growth of industrial value added at comparable prices",
       reason="growth-rate targets are not evaluated"),
    _i("nonsei_output", AMOUNT, "amount", "gross output of above-scale industry outside SEI",
       column="nonsei_output"),
    _i("industry_and_producer_services_share_gdp", "%", "share",
       "value added of industry and producer services together as a share of GDP",
       reason="producer services are not modelled"),
    _i("industrial_revenue", AMOUNT, "amount", "operating revenue of above-scale industrial firms",
       reason="revenue is not modelled (output is)"),
    _i("industrial_profit", AMOUNT, "amount", "total profit of above-scale industrial firms",
       reason="profits are not modelled"),
    _i("industrial_profit_growth", "%", "growth", "year-on-year growth of industrial profit",
       reason="profits are not modelled"),
    _i("industrial_profit_margin", "%", "share", "profit as a share of revenue, above-scale industry",
       reason="profits are not modelled", share_of=("industrial_profit", "industrial_revenue")),
    _i("gdp", AMOUNT, "amount", "gross regional product", column="gdp"),
    _i("gdp_growth", "%", "growth", "GDP growth at comparable prices",
       reason="growth-rate targets are not evaluated"),
    # Firms -----------------------------------------------------------------------------------
    _i("sei_firm_count", "firms", "count", "number of above-scale SEI firms",
       column="above_scale_firms"),
    _i("above_scale_firm_count", "firms", "count", "number of above-scale industrial firms, all industries",
       reason="only SEI firms are modelled one by one; the rest of industry is an aggregate"),
    _i("firm_count_over", "firms", "count", "SEI firms with revenue above `threshold` 亿元 (10 for "
       "超10亿, 100 for 百亿级)", needs_threshold=True),
    _i("listed_firm_count", "firms", "count", "listed companies",
       reason=NOT_STATUS.format("listing")),
    _i("specialised_sme_count", "firms", "count", "专精特新 SMEs (any level)",
       reason=NOT_STATUS.format("专精特新")),
    _i("little_giant_count", "firms", "count", "national 专精特新 'little giant' firms",
       reason=NOT_STATUS.format("little giant")),
    _i("single_champion_count", "firms", "count", "manufacturing single-product champions (单项冠军)",
       reason=NOT_STATUS.format("single champion")),
    _i("unicorn_count", "firms", "count", "unicorn firms", reason=NOT_STATUS.format("unicorn")),
    _i("global500_firm_count", "firms", "count", "local firms in the Fortune Global 500",
       reason=NOT_STATUS.format("Global 500")),
    _i("hightech_enterprise_count", "firms", "count", "national high-tech enterprises",
       reason=NOT_STATUS.format("high-tech enterprise")),
    _i("tech_sme_count", "firms", "count", "registered science-and-technology SMEs (national or "
       "municipal register: say which in `note`)", reason=NOT_STATUS.format("tech SME")),
    _i("ip_demo_firm_count", "firms", "count", "intellectual-property demonstration firms",
       reason=NOT_STATUS.format("IP demonstration")),
    _i("cloud_firm_count", "firms", "count", "firms using cloud services (企业上云)",
       reason="digital adoption is not modelled"),
    # Clusters, chains, places -----------------------------------------------------------------
    _i("cluster_count", "count", "count", "number of clusters of the size class `threshold` 亿元; "
       "with `among`, how many of the listed industries reach it (k of n)", needs_threshold=True),
    _i("ranked_cluster_count", "count", "count", "number of clusters of a rank (`rank`: world, "
       "national, provincial)", reason="cluster ranks are awarded, not modelled"),
    _i("cluster_class", AMOUNT, "class", "size class of one industry's cluster (scope industry; "
       "qualifier `class`)", by_unit=True),
    _i("industry_chain_count", "count", "count", "key industry chains the region organises",
       reason="industry chains are not modelled"),
    _i("demo_base_count", "count", "count", "national industrialisation demonstration bases",
       reason="demonstration status is not modelled"),
    _i("functional_zone_count", "count", "count", "industrial functional zones or belts",
       reason="spatial zones are not modelled (parks are)"),
    # Innovation and talent ---------------------------------------------------------------------
    _i("rd_institution_count", "count", "count", "new-type R&D institutions and similar platforms",
       reason="R&D institutions are not modelled"),
    _i("innovation_platform_count", "count", "count",
       "other innovation platforms (key labs, enterprise technology centres, engineering centres)",
       reason="innovation platforms are not modelled"),
    _i("key_lab_count", "count", "count", "key laboratories", reason="laboratories are not modelled"),
    _i("green_factory_count", "count", "count", "green factories",
       reason="green factories are not modelled"),
    _i("rd_intensity", "%", "share", "R&D spending as a share of GDP",
       reason="R&D spending relative to GDP is not modelled"),
    _i("industrial_rd_intensity", "%", "share", "R&D spending of above-scale industrial firms as a "
       "share of their revenue", reason="R&D spending relative to revenue is not modelled"),
    _i("tech_contract_turnover", AMOUNT, "amount", "turnover of registered technology contracts",
       reason="technology markets are not modelled"),
    _i("tech_contract_turnover_share_gdp", "%", "share", "technology contract turnover as a share "
       "of GDP", reason="technology markets are not modelled",
       share_of=("tech_contract_turnover", "gdp")),
    _i("rd_personnel", PEOPLE, "count", "R&D personnel stock",
       reason="the model's talent pool covers SEI firms only"),
    _i("high_level_talent_added", PEOPLE, "flow", "high-level talent added over `period`",
       reason="high-level talent is not modelled"),
    _i("high_tech_output", AMOUNT, "amount", "output of high-technology industry",
       reason="high-technology industry is a different classification"),
    _i("informatisation_index", "index", "index", "integration of informatisation and "
       "industrialisation (两化融合) index", reason="digital adoption is not modelled"),
    _i("digital_design_tool_rate", "%", "share", "share of industrial firms using digital design "
       "tools", reason="digital adoption is not modelled"),
    # Beyond industry --------------------------------------------------------------------------
    _i("energy_intensity_decline", "%", "growth", "fall of energy use per unit of GDP",
       reason="energy use is not modelled"),
    _i("urbanisation_rate", "%", "share", "urban share of the resident population",
       reason="population is not modelled"),
    # Funds -----------------------------------------------------------------------------------
    _i("fund_count", "count", "count", "number of government equity funds",
       reason="the number of funds is an input"),
    _i("fund_invested", AMOUNT, "flow", "capital the funds actually invested (scope fund)",
       reason="fund investment is an input (lever)"),
    _i("fund_co_investment", AMOUNT, "flow", "total project investment the funds drew in (scope "
       "fund)", reason="co-investment follows from the leverage input"),
]

INDICATORS: dict[str, Indicator] = {ind.id: ind for ind in _ALL}
assert len(INDICATORS) == len(_ALL), "duplicate indicator id"
assert all(ind.kind in KINDS for ind in _ALL)
assert all(u in UNIT_FACTORS for ind in _ALL for u in ind.units)
assert all(set(ind.share_of or ()) <= set(INDICATORS) for ind in _ALL)


def indicator(name: str) -> Indicator:
    """The registry entry of ``name`` (KeyError with a spelling hint if unknown)."""
    try:
        return INDICATORS[name]
    except KeyError:
        raise KeyError(f"unknown indicator '{name}'{suggest_indicator(name)}") from None


def suggest_indicator(name: str) -> str:
    """' (did you mean X?)' when ``name`` is a spelling slip of one indicator, else '' (see
    :func:`sim.errors.nearest_concept`)."""
    return nearest_concept(name, INDICATORS)


def markdown_table() -> str:
    """The indicator table of ``docs/plan-format.md``."""
    rows = ["| indicator | units | kind | meaning | simulated by |", "| --- | --- | --- | --- | --- |"]
    for ind in _ALL:
        sim = f"`{ind.column}`" if ind.column else ("per unit" if ind.by_unit else
                                                     f"not simulated: {ind.reason}")
        if ind.id in ("firm_count_over", "cluster_count"):
            sim = "see Targets"
        rows.append(f"| `{ind.id}` | {', '.join(ind.units)} | {ind.kind} | {ind.meaning} | {sim} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
