"""The survey page's weight and render time: what a customer on a phone downloads.

python bench/survey_page.py
"""

from __future__ import annotations

import gzip
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "common" / "python"))

from ticketflow.surveys import page

for lang in page.LANGUAGES:
    html = page.form(lang, number="CS20261123000001", ask_nps=True).encode()
    runs = 2000
    started = time.perf_counter()
    for _ in range(runs):
        page.form(lang, number="CS20261123000001", ask_nps=True)
    per_render_us = (time.perf_counter() - started) / runs * 1e6
    print(
        f"{lang}: {len(html):,} bytes, {len(gzip.compress(html)):,} gzipped, "
        f"rendered in {per_render_us:.0f} µs, no external resource"
    )
