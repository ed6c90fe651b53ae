"""Make the CJK font seisim ships for Chinese plot labels (sim/reporting/fonts/).

Matplotlib's default fonts have no Chinese glyphs, so plots with plan names showed empty boxes. The
full Noto Sans CJK collection is about 20 MB; the plots need only the characters of GB2312 (the
6,763 common simplified characters and its symbols), ASCII and Latin-1, common punctuation, and
whatever the shipped plan, scenario and locale files use. This script cuts Noto Sans CJK SC
(SIL Open Font License 1.1, Debian package fonts-noto-cjk) down to those characters.

    apt-get install fonts-noto-cjk
    python tools/subset_cjk_font.py /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

Rerun it when a plan file brings a character outside GB2312 (the test of the bundled font lists
characters of the shipped data the font lacks).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "sim" / "reporting" / "fonts" / "NotoSansSC-seisim-subset.otf"
SC_NAME = "Noto Sans CJK SC"
#: The subset's family name: a modified font takes its own name (SIL OFL 1.1), and a distinct name
#: lets matplotlib pick the bundled file even where the full Noto Sans CJK is installed.
FAMILY = "Noto Sans SC seisim"


def gb2312() -> set[str]:
    chars = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return chars


def wanted() -> set[str]:
    chars = gb2312()
    chars |= {chr(c) for c in range(0x20, 0x7F)} | {chr(c) for c in range(0xA0, 0x100)}
    chars |= {chr(c) for c in range(0x2010, 0x2070)} | {chr(c) for c in range(0x3000, 0x3040)}
    chars |= {chr(c) for c in range(0xFF01, 0xFF5F)} | set("≥≤±×÷→←↑↓·")
    for folder, pattern in (("seeds", "**/*.yaml"), ("scenarios", "*.yaml"),
                            ("sim/reporting/locales", "*.yaml")):
        for path in (ROOT / folder).glob(pattern):
            chars |= set(path.read_text(encoding="utf-8"))
    return {c for c in chars if c.isprintable() or c == " "}


def rename(font) -> None:
    names = font["name"]
    for record in names.names:
        if record.nameID in (1, 16):
            record.string = FAMILY
        elif record.nameID == 4:
            record.string = FAMILY
        elif record.nameID == 6:
            record.string = FAMILY.replace(" ", "") + "-Regular"
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [FAMILY.replace(" ", "") + "-Regular"]
        cff[cff.fontNames[0]].FamilyName = FAMILY
        cff[cff.fontNames[0]].FullName = FAMILY


def main(collection: str) -> None:
    fonts = TTCollection(collection).fonts
    font = next(f for f in fonts if f["name"].getDebugName(4) == SC_NAME)
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in wanted()))
    subsetter.subset(font)
    rename(font)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    font.save(OUT)
    print(f"{OUT.relative_to(ROOT)}: {OUT.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else
         "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
