"""The server-drawn charts keep every label and value inside the picture and apart from each other, at the page's
size and the meeting view's: a long label is cut with its full text in a title, values never sit on each other."""

from __future__ import annotations

import re
from itertools import combinations

import pytest

from app.stats.charts import bar_chart, ems, fit, line_chart

TEXT = re.compile(r'<text x="([\d.]+)" y="([\d.]+)" text-anchor="(\w+)" font-size="(\d+)"[^>]*class="([\w-]+)">'
                  r'([^<]*)</text>')
VIEWBOX = re.compile(r'viewBox="0 0 (\d+) (\d+)"')
LONG = "长沙市第一人民医院附属儿童医院急诊科"


def texts(svg: str) -> list[tuple[float, float, str, int, str, str]]:
    return [(float(x), float(y), anchor, int(size), cls, text) for x, y, anchor, size, cls, text in TEXT.findall(svg)]


def extent(x: float, anchor: str, size: int, text: str) -> tuple[float, float]:
    width = ems(text) * size
    return {"start": (x, x + width), "end": (x - width, x), "middle": (x - width / 2, x + width / 2)}[anchor]


@pytest.mark.parametrize("scale", [1.0, 1.6])
def test_bar_labels_and_values_stay_inside_the_picture(scale: float):
    rows = [(LONG, "12345", 12345.0), ("十四周岁以上性侵致孕", "≤3", 0.0), ("学校", "7", 7.0)]
    svg = str(bar_chart("按成员单位", rows, scale=scale))
    width, _ = map(int, VIEWBOX.search(svg).groups())
    for x, _, anchor, size, _, text in texts(svg):
        left, right = extent(x, anchor, size, text)
        assert left >= 0, text
        assert right <= width, text


def test_a_cut_label_keeps_its_full_text_in_a_title():
    svg = str(bar_chart("按成员单位", [(LONG, "3", 3.0)], scale=1.6))
    assert f"<title>{LONG}</title>" in svg
    shown = [text for *_, cls, text in texts(svg) if cls == "chart-text"]
    assert shown[0].endswith("…")
    assert LONG.startswith(shown[0][:-1])
    assert fit("学校", 100, 13) == "学校"


def test_line_values_at_one_month_never_overlap():
    series = {"接收": [5, 9, 10, 10], "移送": [5, 8, 4, 10], "办结": [1, 9, 10, 0]}
    svg = str(line_chart("按月份", ["1月", "2月", "3月", "4月"], series, scale=1.6))
    values = [(x, y, size, text) for x, y, _, size, cls, text in texts(svg) if cls == "chart-value"]
    for (x1, y1, size, t1), (x2, y2, _, t2) in combinations(values, 2):
        if x1 == x2:
            assert abs(y1 - y2) >= size, (t1, t2)
            assert t1 != t2  # an equal value is written once
    assert len([v for v in values if v[0] == values[0][0]]) == 2  # 5, 5, 1 in January: two labels
