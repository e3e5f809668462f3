"""Usage by day and product as an SVG bar chart, drawn on the server (no script needed).

Each day is a stack of one bar per product; each bar has a <title> (shown on hover and read
by screen readers), and the page carries the same figures as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

WIDTH, HEIGHT = 720, 240
LEFT, BOTTOM, TOP = 48, 28, 12
# Distinguishable in colour-blind palettes (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label) on the unit axis
    days: list[tuple[float, str]]  # (x, label) under some days
    legend: list[tuple[str, str]]  # (colour, product id)
    baseline: float


def _nice_max(value: int) -> int:
    step = 1
    while step * 10 < value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def usage_chart(units: dict[tuple[date, str], int], start: date, end: date) -> Chart:
    """Bars for `units` per (day, product) over every day from `start` to `end` inclusive."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    products = sorted({p for _, p in units})
    colours = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(products)}
    totals = [sum(units.get((d, p), 0) for p in products) for d in days]
    top = _nice_max(max(5, *totals))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(1, len(days))
    base = TOP + plot_h
    bars: list[Bar] = []
    for i, d in enumerate(days):
        y = base
        for p in products:
            n = units.get((d, p), 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            bars.append(
                Bar(
                    LEFT + i * slot + slot * 0.15,
                    y,
                    slot * 0.7,
                    h,
                    colours[p],
                    f"{d.isoformat()} {p}: {n:,} units",
                )  # fmt: skip
            )
    ticks = [(base - plot_h * k / 5, f"{top * k // 5:,}") for k in range(6)]
    every = max(1, len(days) // 6)
    labels = [(LEFT + i * slot + slot / 2, d.strftime("%d %b")) for i, d in enumerate(days)
              if i % every == 0]  # fmt: skip
    legend = [(colours[p], p) for p in products]
    return Chart(WIDTH, HEIGHT, bars, ticks, labels, legend, base)
