"""CSV files readers open in Excel.

Excel on Chinese Windows reads a CSV without a byte-order mark in the local code page (GBK), so
Chinese plan names and units came out garbled. Every CSV seisim writes for readers is UTF-8 with a
BOM (``utf-8-sig``): Excel recognises it, and pandas (which skips the BOM), Python's csv module (opened
with ``utf-8-sig``) and other spreadsheet programs read it as before.
"""

from __future__ import annotations

CSV_ENCODING = "utf-8-sig"
