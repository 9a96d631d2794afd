"""HDRS-17 and MADRS totals over time as an inline SVG: one line per scale, no arm colouring."""

from __future__ import annotations

from datetime import datetime
from html import escape

from django.utils.translation import gettext as _

from clinimetry import scales

WIDTH, HEIGHT, PAD = 640, 260, 40
STYLE = {key: (s.chart[0], s.name, s.chart[1]) for key, s in scales.SCALES.items()}


def totals_svg(points: dict[str, list[tuple[datetime, int]]]) -> str:
    """SVG markup in the reader's language; x = days since the first rating, y = total (0 to 60)."""
    every = [when for series in points.values() for when, _total in series]
    if not every:
        return ""
    start = min(every)
    span = max((max(every) - start).total_seconds() / 86400, 1.0)

    def x(when: datetime) -> float:
        return PAD + (WIDTH - 2 * PAD) * ((when - start).total_seconds() / 86400) / span

    def y(total: int) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * total / 60

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(_("HDRS-17 and MADRS totals over time"))}" width="{WIDTH}" height="{HEIGHT}" class="img-fluid">'
    ]
    for value in (0, 10, 20, 30, 40, 50, 60):
        parts.append(
            f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#ddd"/>'
            f'<text x="{PAD - 6}" y="{y(value) + 4:.1f}" font-size="10" text-anchor="end">{value}</text>'
        )
    parts.append(
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" font-size="11" text-anchor="middle">{escape(_("days since the first rating (%(days)s d)") % {"days": f"{span:.0f}"})}</text>'
    )
    for offset, (instrument, series) in enumerate(points.items()):
        colour, label, dash = STYLE[instrument]
        if series:
            coords = " ".join(f"{x(w):.1f},{y(t):.1f}" for w, t in series)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}" points="{coords}"/>'
            )
            for w, t in series:
                parts.append(
                    f'<circle cx="{x(w):.1f}" cy="{y(t):.1f}" r="3" fill="{colour}"><title>{escape(label)} {t} ({w:%Y-%m-%d})</title></circle>'
                )
        parts.append(
            f'<text x="{WIDTH - PAD - 90}" y="{PAD - 18 + 14 * offset}" font-size="11" fill="{colour}">— {escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
