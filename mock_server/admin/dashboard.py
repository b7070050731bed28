"""The dashboard at GET /_mock/ui: one server-rendered page, inline SVG, no scripts or external assets.

It shows the enrolled speakers per api key (keys masked), the recent public API calls from the journal,
webhook delivery attempts, and for each identify answer a timeline of who speaks when. Like the rest of
/_mock it exists only with admin on and answers loopback clients only (unless --admin-remote).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import Blueprint, Flask, render_template

from mock_server.admin.journal import async_segments
from mock_server.admin.plugin import admin_state, require_loopback
from mock_server.state import current_state

dashboard = Blueprint("dashboard", __name__, url_prefix="/_mock", template_folder="templates")

RECENT_REQUESTS = 100       # journal rows shown
RECENT_WEBHOOKS = 100       # delivery attempts shown
MAX_TIMELINES = 20          # identify timelines drawn, newest first

# Timeline geometry, in SVG user units (pixels at 100 % zoom).
WIDTH = 1000
LABEL_WIDTH = 110           # left column holding the speaker names
LANE_HEIGHT = 22
LANE_GAP = 6
AXIS_HEIGHT = 28
LEGEND_HEIGHT = 26
# Colour-blind-friendly palette (Okabe-Ito), then grey for "unknown".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
UNKNOWN_COLOUR = "#9E9E9E"


def register_dashboard(app: Flask) -> None:
    app.register_blueprint(dashboard)


@dashboard.before_request
def _loopback_only():
    require_loopback("the /_mock dashboard")


@dashboard.get("/ui")
def ui():
    state = current_state()
    required = state.config.enrollments_required  # shown in the page's legend
    tenants = [{"key": masked_tenant(t),
                "speakers": [{"id": r.speaker_id, "enrollments": r.enrollments,
                              "complete": state.service.is_complete(r)}
                             for r in state.store.speakers(t).values()]}
               for t in state.store.tenants()]
    entries = admin_state().journal.entries(limit=RECENT_REQUESTS)
    timelines = []
    for entry in entries:
        if len(timelines) >= MAX_TIMELINES:
            break
        # realtime streams (method "GRPC") get a timeline of what they answered, a cancelled one's included
        if (entry.path.endswith("/diarization/identify") and entry.status in (200, 202)) or (
                entry.method == "GRPC" and entry.segments):
            segments = entry.segments if entry.segments is not None else async_segments(state.store, entry)
            if segments is not None:
                timelines.append({"entry": entry, "when": _clock(entry.time),
                                  "svg": Timeline.of(segments, entry.speaker_ids or []).svg()})
    webhooks = state.store.webhook_attempts(limit=RECENT_WEBHOOKS)
    return render_template("dashboard.html", tenants=tenants, requests=entries, timelines=timelines,
                           webhooks=webhooks, clock=_clock, now=_clock(time.time()), required=required)


def masked_tenant(tenant: str) -> str:
    """A tenant as the journal shows its key (``auth.mask_key`` gives the same for the key itself)."""
    return f"key#{tenant[:8]}"


def _clock(t: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) if t else ""


# --- the timeline picture -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timeline:
    """Who speaks when: one lane and one colour per speaker, a legend and a time axis in seconds."""

    segments: tuple[tuple[str, float, float], ...]
    speakers: tuple[str, ...]

    @classmethod
    def of(cls, segments: list[dict], requested: list[str]) -> "Timeline":
        """From an identify answer; lanes for the requested speakers first, then any others (e.g. "unknown")."""
        rows = tuple((str(s.get("speaker_id")), float(s.get("start", 0)), float(s.get("end", 0)))
                     for s in segments if isinstance(s, dict))
        speakers = dict.fromkeys(list(requested) + [name for name, _, _ in rows])
        return cls(rows, tuple(speakers))

    def colour(self, speaker: str) -> str:
        if speaker == "unknown":
            return UNKNOWN_COLOUR
        named = [s for s in self.speakers if s != "unknown"]
        return PALETTE[named.index(speaker) % len(PALETTE)]

    @property
    def duration(self) -> float:
        return max([end for _, _, end in self.segments] + [1.0])

    def svg(self) -> str:
        """The picture as an inline <svg> element (text escaped, no external references)."""
        span = _nice_span(self.duration)
        plot = WIDTH - LABEL_WIDTH - 10
        x = lambda t: LABEL_WIDTH + plot * t / span  # noqa: E731
        lanes_top = LEGEND_HEIGHT
        height = lanes_top + len(self.speakers) * (LANE_HEIGHT + LANE_GAP) + AXIS_HEIGHT
        out = [f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
               f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="who speaks when">']
        # legend
        lx = LABEL_WIDTH
        for speaker in self.speakers:
            out.append(f'<g class="legend-item"><rect x="{lx}" y="5" width="14" height="14" '
                       f'fill="{self.colour(speaker)}"/><text x="{lx + 19}" y="17" font-size="13">'
                       f'{_esc(speaker)}</text></g>')
            lx += 30 + 8 * len(speaker)
        # lanes
        for i, speaker in enumerate(self.speakers):
            y = lanes_top + i * (LANE_HEIGHT + LANE_GAP)
            out.append(f'<text class="lane-label" x="{LABEL_WIDTH - 8}" y="{y + LANE_HEIGHT - 6}" font-size="13" '
                       f'text-anchor="end">{_esc(speaker)}</text>')
            out.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{plot}" height="{LANE_HEIGHT}" fill="#f3f3f3"/>')
            for name, start, end in self.segments:
                if name != speaker:
                    continue
                w = max(x(end) - x(start), 1.0)
                out.append(f'<rect class="segment" data-speaker="{_esc(name)}" x="{x(start):.1f}" y="{y}" '
                           f'width="{w:.1f}" height="{LANE_HEIGHT}" fill="{self.colour(name)}">'
                           f'<title>{_esc(name)}: {start:.2f}-{end:.2f} s</title></rect>')
        # time axis
        axis_y = lanes_top + len(self.speakers) * (LANE_HEIGHT + LANE_GAP)
        out.append(f'<line x1="{LABEL_WIDTH}" y1="{axis_y}" x2="{LABEL_WIDTH + plot}" y2="{axis_y}" '
                   'stroke="#444"/>')
        step = _tick_step(span)
        ticks = int(round(span / step))
        for k in range(ticks + 1):
            t = k * step
            out.append(f'<line x1="{x(t):.1f}" y1="{axis_y}" x2="{x(t):.1f}" y2="{axis_y + 5}" stroke="#444"/>'
                       f'<text class="tick" x="{x(t):.1f}" y="{axis_y + 18}" font-size="11" '
                       f'text-anchor="middle">{_fmt_seconds(t)}</text>')
        out.append(f'<text x="{LABEL_WIDTH - 8}" y="{axis_y + 18}" font-size="11" text-anchor="end">'
                   'time (s)</text>')
        out.append("</svg>")
        return "".join(out)


def _tick_step(span: float) -> float:
    """A 1-2-5 step giving about 10 ticks over ``span`` seconds."""
    raw = span / 10
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def _nice_span(duration: float) -> float:
    """The axis length: ``duration`` rounded up to a whole tick."""
    step = _tick_step(duration)
    return math.ceil(duration / step - 1e-9) * step


def _fmt_seconds(t: float) -> str:
    return f"{t:g}" if t < 60 else f"{int(t // 60)}:{t % 60:04.1f}"


def _esc(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))
