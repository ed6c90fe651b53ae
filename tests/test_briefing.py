"""Briefings (``seisim brief``), the shared naming and number formats, CSV encoding and the bundled
CJK font, end to end on a small real Fuling run."""

from __future__ import annotations

import base64
import html
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

import sim
import sim.plans
from sim.cli import main
from sim.errors import InputError
from sim.plans.indicators import INDICATORS
from sim.reporting import present

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "fuling-baseline.yaml")
DOUBLE = str(ROOT / "scenarios" / "fuling-fund-double.yaml")
FAST = ["--backend", "serial", "--no-progress"]


def visible_text(page: str) -> str:
    """What a reader of the page sees: no styles, tags, attributes or embedded images."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    page = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(page)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One Monte Carlo run, briefed in Chinese and in English."""
    out = tmp_path_factory.mktemp("brief") / "fuling"
    assert main(["mc", BASELINE, "-n", "100", "--seed", "7", *FAST, "--out", str(out)]) == 0
    pages, books = {}, {}
    for lang in ("zh", "en"):
        assert main(["brief", str(out), "--lang", lang]) == 0
        pages[lang] = (out / "briefing.html").read_text(encoding="utf-8")
        books[lang] = (out / "briefing.xlsx").read_bytes()
    targets = pd.read_csv(out / "targets.csv")
    return {"out": out, "html": pages, "xlsx": books, "targets": targets,
            "plan": sim.plans.load("fuling")}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_headline_sentence_comes_first_with_the_probability_of_targets_csv(run, lang):
    page = run["html"][lang]
    share = run["targets"].set_index("target").loc["sei_output_share_2026"]
    headline = re.search(r'<p class="headline[^"]*" id="headline">(.*?)</p>', page, re.S)
    assert headline, "no headline paragraph"
    sentence = html.unescape(headline.group(1))
    assert f"{100 * share['p_met']:.0f}%" in sentence
    assert f"{100 * share['ci_low']:.0f}%" in sentence and f"{100 * share['ci_high']:.0f}%" in sentence
    assert "40.0%" in sentence and "2026" in sentence
    name = "战略性新兴产业产值占规上工业总产值比重" if lang == "zh" else \
        "SEI share of above-scale industrial output"
    assert name in sentence
    # the sentence is the first thing after the title, before any chart or table
    assert page.index('id="headline"') < min(page.index("<table"), page.index("<img"))


def test_targets_carry_the_plans_names(run):
    plan, zh, en = run["plan"], visible_text(run["html"]["zh"]), visible_text(run["html"]["en"])
    scored = set(run["targets"].loc[run["targets"]["p_met"].notna(), "scope"])
    units = ([u for u in plan.industries if f"industry:{u.id}" in scored]
             + [p for p in plan.parks if f"park:{p.id}" in scored])
    assert len(units) >= 8
    for unit in units:
        assert f"{unit.name}：" in zh, unit.name
        assert f"{unit.name_en}: " in en, unit.name_en
    assert "上市企业数" in zh and "listed companies" in en


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_slugs_or_file_names_in_visible_text(run, lang):
    text, plan = visible_text(run["html"][lang]), run["plan"]
    ids = list(run["targets"]["target"]) + [u.id for u in (*plan.industries, *plan.parks,
                                                            *plan.funds)]
    ids += [k for k in INDICATORS if "_" in k]
    found = [i for i in ids if re.search(rf"(?<![\w.]){re.escape(i)}(?![\w.])", text)]
    assert not found
    assert plan.document not in text and ".txt" not in text
    assert f"《{plan.title}》" in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_targets_ordered_and_grouped_not_evaluated_last(run, lang):
    page, loc = run["html"][lang], present.locale(lang)
    tables = re.findall(r'<table class="targets (evaluated|not-evaluated)">', page)
    assert tables[-1] == "not-evaluated" and "not-evaluated" not in tables[:-1]
    headings = [html.unescape(h) for h in re.findall(r"<h3>(.*?)</h3>", page)]
    order = [loc["groups"][g] for g in present.GROUPS]
    shown = [h for h in headings if h in order]
    assert shown == sorted(shown, key=order.index) and shown[0] == loc["groups"]["headline"]
    assert shown[-1] == loc["groups"]["not_evaluated"]
    # every target not evaluated is listed after the last evaluated one, with its reason
    text = visible_text(page)
    skipped = run["targets"][run["targets"]["p_met"].isna()]
    assert len(skipped) == 9
    group = text.index(loc["groups"]["not_evaluated"])
    reason = "模型不模拟该指标" if lang == "zh" else "firm status (listing) is not modelled"
    assert text.index(reason) > group
    shown = present.present_targets(run["targets"], run["plan"], lang)
    for name in shown.loc[shown["p_met"].notna(), "name"]:
        assert text.index(name) < group, name
    for name in shown.loc[shown["p_met"].isna(), "name"]:
        assert text.index(name, group) > group, name


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_numbers_in_plain_notation_with_units(run, lang):
    text = visible_text(run["html"][lang])
    # 1.424e+04 or 1e4, but not inside a hexadecimal content hash
    scientific = re.search(r"(?<![0-9a-fA-F.])\d+(\.\d+)?[eE][+-]?\d+(?![0-9a-fA-F])", text)
    assert scientific is None, text[scientific.start() - 20:scientific.end() + 10]
    assert "1,400 亿元" in text and "40.0%" in text
    firms = "200 家" if lang == "zh" else "200 firms"
    assert firms in text


def test_charts_are_embedded_pngs(run):
    page = run["html"]["zh"]
    images = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(images) >= 2
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<link" not in page and "<script" not in page  # nothing to fetch


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_reproduce_command_with_seed(run, lang):
    page = run["html"][lang]
    block = html.unescape(re.search(r'<pre id="reproduce">(.*?)</pre>', page, re.S).group(1))
    assert "seisim mc scenario.yaml --out NEW_DIR" in block
    resolved = yaml.safe_load((run["out"] / "scenario.yaml").read_text(encoding="utf-8"))
    assert resolved["monte_carlo"]["seed"] == 7  # the command reruns the stored seed
    assert ("随机种子 7" if lang == "zh" else "seed 7") in visible_text(page)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_workbook_sheets_units_and_values(run, lang, tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "b.xlsx"
    path.write_bytes(run["xlsx"][lang])
    book = load_workbook(path)
    sheets = present.locale(lang)["sheets"]
    assert book.sheetnames == [sheets[k] for k in ("targets", "not_evaluated", "path",
                                                   "assumptions", "about")]
    targets = book[sheets["targets"]]
    header = [c.value for c in targets[1]]
    assert targets.freeze_panes == "A2"
    assert any(h.endswith("(%)") for h in header)
    assert header[3] == present.locale(lang)["columns"]["unit"]
    first = [c.value for c in targets[2]]
    share = run["targets"].set_index("target").loc["sei_output_share_2026"]
    assert first[5] == pytest.approx(round(100 * share["p_met"], 1))
    assert first[3] == "%" and first[4] == 40
    assert targets.column_dimensions["B"].width > 20  # long names get room
    skipped = book[sheets["not_evaluated"]]
    assert skipped.max_row - 1 == run["targets"]["p_met"].isna().sum()
    path_header = [c.value for c in book[sheets["path"]][1]]
    assert any("(%)" in str(h) for h in path_header)


def test_csvs_start_with_a_bom_and_read_back(run):
    for name in ("targets.csv", "first_met.csv", "targets_by_structure.csv"):
        data = (run["out"] / name).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf"), name
    assert list(run["targets"].columns)[0] == "target"  # pandas skips the BOM


def test_chinese_plot_uses_the_bundled_font(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    from sim.reporting.fonts import FAMILY, FONT_FILE
    from sim.reporting.plots import probability_chart

    frame = pd.DataFrame({"target": ["a"], "year": [2026], "p_met": [0.3], "ci_low": [0.2],
                          "ci_high": [0.4]})
    # even after a style reset (the plots register the font again)
    with warnings.catch_warnings(record=True) as caught, matplotlib.rc_context():
        warnings.simplefilter("always")
        matplotlib.rcdefaults()
        fig = probability_chart(frame, labels=["新材料：产值 2026"], title="涪陵区 各目标实现概率",
                                xlabel="实现概率")
        fig.savefig(tmp_path / "zh.png")
        plt.close(fig)
        assert FAMILY in matplotlib.rcParams["font.family"]
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing
    found = font_manager.findfont(font_manager.FontProperties(family=FAMILY),
                                  fallback_to_default=False)
    assert Path(found).resolve() == FONT_FILE.resolve()
    assert FAMILY in matplotlib.rcParams["font.family"]


def test_bundled_font_covers_the_shipped_names():
    from matplotlib.ft2font import FT2Font

    from sim.reporting.fonts import FONT_FILE

    font = FT2Font(str(FONT_FILE))
    text = "".join(f"{u.name}{getattr(u, 'name_en', '')}" for region in ("fuling", "chongqing",
                                                                          "chengdu")
                   for plan in [sim.plans.load(region)]
                   for u in (*plan.industries, *plan.parks, *plan.funds))
    for lang in present.LANGUAGES:
        text += (present.LOCALES / f"{lang}.yaml").read_text(encoding="utf-8")
    lacking = sorted({c for c in text if c.isprintable() and not c.isspace()
                      and font.get_char_index(ord(c)) == 0})
    assert not lacking, f"rerun tools/subset_cjk_font.py: {''.join(lacking)}"
    assert FONT_FILE.stat().st_size < 5e6


def test_locales_word_every_indicator_and_match_each_other():
    def keys(d, prefix=""):
        return {prefix + k for k in d} | {x for k, v in d.items() if isinstance(v, dict)
                                          and k not in ("indicators", "scoped_indicators", "rules")
                                          for x in keys(v, f"{prefix}{k}.")}

    zh, en = present.locale("zh"), present.locale("en")
    assert keys(zh) == keys(en)
    for loc in (zh, en):
        assert set(loc["indicators"]) == set(INDICATORS)


def test_plain_numbers():
    assert present.plain(14240.3) == "14,240"
    assert present.plain(1.424e4) == "14,240"
    assert present.amount(35, "%", "zh") == "35.0%"
    assert present.amount(12.35, "%", "en") == "12.35%"  # an "about 13" threshold as scored
    assert present.amount(38.417, "%", "en") == "38.4%"
    assert present.amount(1.424e4, "亿元", "zh") == "14,240 亿元"
    assert present.amount(96.35, "亿元", "en") == "96.3 亿元"
    assert present.amount(68.9, "firms", "zh") == "69 家"
    assert present.probability(0.284) == "28%"
    assert present.light(0.8) == "green" and present.light(0.5) == "amber"
    assert present.light(0.49) == "red"


def test_python_call_and_bad_input(run, tmp_path, capsys):
    from sim.reporting.results import load_result

    result = load_result(run["out"])
    paths = result.briefing(lang="en")
    assert paths["html"].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in paths["html"].read_text(encoding="utf-8")
    with pytest.raises(InputError, match="unknown language 'fr'"):
        result.briefing(lang="fr")
    assert main(["brief", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a seisim run directory" in err


def test_compare_with_brief_option_shows_differences(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(["compare", BASELINE, DOUBLE, "-n", "20", "--seed", "2", *FAST, "--no-plots",
                 "--out", str(out), "--brief", "en"])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"briefing: {out / 'briefing.html'}" in printed
    text = visible_text((out / "briefing.html").read_text(encoding="utf-8"))
    diffs = pd.read_csv(out / "differences.csv")
    assert "Differences between scenarios" in text
    row = diffs.iloc[0]
    assert f"{100 * row['p_met_diff']:+.1f} pp" in text
    assert "fuling-fund-double" in text
    from openpyxl import load_workbook

    book = load_workbook(out / "briefing.xlsx")
    sheet = book[present.locale("en")["sheets"]["differences"]]
    assert sheet.max_row - 1 == len(diffs)
    assert sheet.cell(2, 5).value == pytest.approx(round(100 * row["p_met_diff"], 1))
    # every scenario's targets are in one sheet, told apart by a scenario column
    targets = book[present.locale("en")["sheets"]["targets"]]
    assert targets.cell(1, 1).value == "Scenario"
    assert {c.value for c in targets["A"][1:]} == {"fuling-baseline", "fuling-fund-double"}


def test_briefing_assumptions_name_figures_without_keys():
    from sim.reporting.report import assumption_items

    scenario = sim.load_scenario(ROOT / "scenarios" / "chengdu-baseline.yaml")
    briefed = assumption_items(scenario, "zh", keys=False)
    assert briefed and not any("sei_va_share_assumed_2022" in item for item in briefed)
    assert briefed[0].startswith("战略性新兴产业增加值占工业增加值比重 2022 = 5.0%-15.0%")
    assert any("(`sei_va_share_assumed_2022`)" in item for item in assumption_items(scenario))


def test_reproduce_commands_from_the_manifest():
    from sim.reporting.briefing import reproduce_commands

    manifest = {"settings": {"seed": 5, "replications": 100},
                "command": ["/somewhere/bin/seisim", "compare", "a.yaml", "b.yaml", "--out",
                            "runs/x", "--backend", "serial", "--resume"]}
    assert reproduce_commands(manifest, ["a", "b"]) == [
        "seisim compare a.yaml b.yaml --backend serial --seed 5 -n 100 --out NEW_DIR"]
    manifest["command"] = ["/somewhere/bin/seisim", "mc", "a.yaml", "--seed", "9", "-n", "50"]
    assert reproduce_commands(manifest, [""]) == [
        "seisim mc scenario.yaml --out NEW_DIR", "seisim mc a.yaml --seed 9 -n 50 --out NEW_DIR"]
    manifest["command"] = ["/somewhere/bin/pytest", "tests"]  # started from Python, not seisim
    assert reproduce_commands(manifest, ["a", "b"]) == []
