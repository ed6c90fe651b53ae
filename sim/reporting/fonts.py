"""The CJK font plots use, so Chinese plan names render instead of empty boxes.

Matplotlib's default fonts have no Chinese glyphs. seisim ships a subset of Noto Sans CJK SC (SIL
Open Font License, ``sim/reporting/fonts/OFL.txt``; GB2312 plus the characters of the shipped plan
files, made by ``tools/subset_cjk_font.py``) and registers it here, once, as a fallback after
matplotlib's own sans-serif font: Latin text keeps its usual look, Chinese characters come from the
bundled font.
"""

from __future__ import annotations

from pathlib import Path

FONT_FILE = Path(__file__).with_name("fonts") / "NotoSansSC-seisim-subset.otf"
FAMILY = "Noto Sans SC seisim"

_registered = False


def use_cjk_font() -> str:
    """Register the bundled font with matplotlib and put it in the sans-serif fallback chain;
    returns its family name. Safe to call many times."""
    global _registered
    import matplotlib as mpl
    from matplotlib import font_manager

    if not _registered:
        font_manager.fontManager.addfont(str(FONT_FILE))
        _registered = True
    family = list(mpl.rcParams["font.family"])
    if FAMILY not in family:
        # after the default Latin font: matplotlib falls back to it glyph by glyph
        mpl.rcParams["font.family"] = family + [FAMILY]
    return FAMILY
