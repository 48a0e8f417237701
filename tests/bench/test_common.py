"""The benchmarks' figure lines: printed and parsed back in one format."""

from __future__ import annotations

import math

from bench.common import Figure, parse_figures


def test_figure_lines_parse_back() -> None:
    figures = [Figure("a.seconds", 1.23456, "s", "one label"), Figure("b.never", math.inf, "s", "x y"),
               Figure("c.ratio", math.nan, "x", "undefined")]
    parsed = parse_figures("== header\n" + "\n".join(f.line() for f in figures) + "\nskipped: no")
    assert list(parsed) == ["a.seconds", "b.never", "c.ratio"]
    assert parsed["a.seconds"].value == 1.235 and parsed["a.seconds"].label == "one label"
    assert parsed["b.never"].value == math.inf and math.isnan(parsed["c.ratio"].value)
