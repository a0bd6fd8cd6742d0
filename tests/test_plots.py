"""The hand-written SVG charts of the admin screens."""

import re

from cart_recommender.admin.plots import Series, line_chart, nice_ticks


def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ticks = nice_ticks(3, 997)
    assert ticks[0] <= 3 and ticks[-1] >= 997 and ticks[1] - ticks[0] == 200
    assert nice_ticks(5, 5)[0] <= 5 <= nice_ticks(5, 5)[-1]


def test_line_chart_draws_each_series_with_gaps_and_escapes_labels():
    svg = str(line_chart([Series("a<b", [1.0, None, 3.0]), Series("c", [2.0, 2.0, 2.0], dashed=True)],
                         x_values=[1, 2, 3], title="T & U"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "a&lt;b" in svg and "T &amp; U" in svg and "a<b" not in svg
    paths = dict(re.findall(r'data-series="([^"]+)" d="([^"]+)"', svg))
    assert paths["a&lt;b"].count("M") == 2 and "L" not in paths["a&lt;b"]  # the None breaks the line
    assert paths["c"].count("L") == 2
    assert 'stroke-dasharray="5 3"' in svg


def test_line_chart_values_map_to_the_plot_area():
    svg = str(line_chart([Series("s", [0.0, 1.0])], x_values=["x", "y"], title="t", y_min=0.0,
                         y_max=1.0, width=200, height=200))
    points = re.findall(r"[ML]([\d.]+) ([\d.]+)", re.search(r'data-series="s" d="([^"]+)"', svg).group(1))
    (x0, y0), (x1, y1) = [(float(a), float(b)) for a, b in points]
    assert x1 > x0 and y1 < y0  # higher values are drawn higher up


def test_empty_chart_says_so():
    assert "No data to plot yet" in line_chart([], x_values=[], title="t")
    assert "No data to plot yet" in line_chart([Series("s", [None])], x_values=[1], title="t")
