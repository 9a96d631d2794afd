"""SVG figures of a stored result: DIFF with fit, baseline and residual; OFF; frequency drift."""

from __future__ import annotations

from html import escape
from typing import Any

from django.utils.translation import gettext as _

W, H, PAD = 640, 240, 36


def _polyline(
    xs: list[float],
    ys: list[float],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    colour: str,
    dash: str = "",
) -> str:
    (x0, x1), (y0, y1) = x_range, y_range
    span_x = (x1 - x0) or 1.0
    span_y = (y1 - y0) or 1.0
    # ppm runs right to left, as spectra are read.
    points = " ".join(
        f"{W - PAD - (W - 2 * PAD) * (x - x0) / span_x:.1f},{H - PAD - (H - 2 * PAD) * (y - y0) / span_y:.1f}"
        for x, y in zip(xs, ys, strict=False)
    )
    return f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" stroke-dasharray="{dash}" points="{points}"/>'


def _frame(title: str, x_range: tuple[float, float], body: list[str], x_label: str) -> str:
    ticks = []
    lo, hi = x_range
    for i in range(6):
        value = lo + (hi - lo) * i / 5
        x = W - PAD - (W - 2 * PAD) * i / 5
        ticks.append(f'<text x="{x:.1f}" y="{H - 12}" font-size="10" text-anchor="middle">{value:.2f}</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}" width="{W}" height="{H}" class="img-fluid">'
        f'<text x="{PAD}" y="16" font-size="12">{escape(title)}</text>{"".join(ticks)}'
        f'<text x="{W / 2}" y="{H - 1}" font-size="10" text-anchor="middle">{x_label}</text>{"".join(body)}</svg>'
    )


def _spectrum_svg(d: dict[str, Any] | None, title: str, extra: tuple[tuple[str, str, str], ...] = ()) -> str:
    """Data (black), fit (red), baseline (grey, dashed), residual (blue) and `extra` lines
    (key, colour, dash) of one fitted spectrum."""
    if not d:
        return ""
    ys = d["data"] + d["model"] + d["residual"]
    y_range = (min(ys), max(ys))
    x_range = (min(d["ppm"]), max(d["ppm"]))
    lines = (
        ("data", "#222", ""),
        ("model", "#c0392b", ""),
        ("baseline", "#7f8c8d", "4 3"),
        ("residual", "#2980b9", ""),
    )
    body = [
        _polyline(d["ppm"], d[key], x_range, y_range, colour, dash) for key, colour, dash in (*lines, *extra)
    ]
    return _frame(title, x_range, body, "ppm")


def diff_svg(figure: dict[str, Any]) -> str:
    return _spectrum_svg(
        figure.get("diff"), _("DIFF: data (black), fit (red), baseline (grey), residual (blue)")
    )


def lcm_svg(figure: dict[str, Any]) -> str:
    """Short-TE PRESS: data, linear-combination fit, baseline and residual; Glu and Gln apart."""
    return _spectrum_svg(
        figure.get("lcm"),
        _("PRESS: data (black), fit (red), baseline (grey), residual (blue), Glu (green), Gln (purple)"),
        (("glu", "#27ae60", ""), ("gln", "#8e44ad", "2 2")),
    )


def off_svg(figure: dict[str, Any]) -> str:
    d = figure.get("off")
    if not d:
        return ""
    x_range = (min(d["ppm"]), max(d["ppm"]))
    y_range = (min(d["data"]), max(d["data"]))
    body = [_polyline(d["ppm"], d["data"], x_range, y_range, "#222")]
    if d.get("fit"):
        body.append(_polyline(d["fit_ppm"], d["fit"], x_range, y_range, "#c0392b"))
    return _frame(_("OFF: data (black), tCr and tCho fit (red); NAA 2.0 ppm"), x_range, body, "ppm")


def drift_svg(figure: dict[str, Any]) -> str:
    drift = figure.get("drift_hz") or []
    if not drift:
        return ""
    xs = [float(i) for i in range(len(drift))]
    y_range = (min(drift) - 0.5, max(drift) + 0.5)
    x_range = (float(len(drift) - 1), 0.0)
    return _frame(
        _("Frequency drift (Hz) over accepted OFF transients"),
        x_range,
        [_polyline(xs, drift, (0.0, max(xs) or 1.0), y_range, "#8e44ad")],
        _("transient"),
    )
