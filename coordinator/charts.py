"""How a patient is doing over time: the course page's charts, drawn on the server as SVG.

Three steps, each usable alone:

1. ``chart_data(course, today=...)`` reads the course's results, checks, lines, cycles and
   events in a fixed number of queries (six, whatever the length of the history) and
   returns plain data: lists of dated points and spans (:class:`CourseChartData`).
2. ``markers_svg``, ``symptoms_svg`` and ``timeline_svg`` draw that data with matplotlib's
   object API (``matplotlib.figure.Figure`` and the SVG canvas; no pyplot, so no global
   figure state) and return an SVG string, or None when there is nothing to draw.
3. ``course_charts(course, today=...)`` does both for the course page.

Each drawn point is its own artist whose SVG id ends with ``point-<record>-<pk>`` (a lab
result ``point-lab-12``, a symptom answer ``point-check-7-stools_per_day``), so a reader (and
a test) can match every point with its stored row. The output is deterministic: the ids are
hashed with a fixed salt, the metadata carry no date, and text stays text
(``svg.fonttype = "none"``), so the same data always gives the same SVG.

The page's Content-Security-Policy allows inline styles (``style-src 'unsafe-inline'``,
netcare/settings.py) and matplotlib's SVG holds no script, so the SVG is inlined in the page.
Its one ``<style>`` element is scoped to the chart's own root element.

No clinical number is drawn that NetCare does not hold: a marker's pre-operative value is its
result collected on or before the day of the surgery that opened the course (results cannot
be dated earlier, docs/clinical-rules.md#dates), and an upper reference limit is drawn only
where the project knows one (``upper_reference_limit``); NetCare stores no laboratory
reference range for chromogranin A or 5-HIAA, and the chart's legend says so.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import matplotlib
import matplotlib.dates as mdates
from django.utils.safestring import SafeString, mark_safe
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from surveillance import schedule
from surveillance.models import ImagingStudy, LabResult, SymptomCheck
from treatments import labels
from treatments.machine import guards_systemic
from treatments.models import Course, CourseEvent, PrrtCycle, TreatmentLine

# The tumour markers the surveillance rules follow (docs/clinical-rules.md#visits-and-markers).
TUMOUR_MARKERS: tuple[str, ...] = (schedule.CGA, schedule.U5HIAA)

# Upper reference limits NetCare itself knows, by (analyte, stored unit). Only the bilirubin
# limit the NETTER-1 guard takes (treatments.machine.guards_systemic) is known; no reference
# range of chromogranin A or 5-HIAA is stored, as it differs by assay and laboratory.
_UPPER_LIMITS: dict[tuple[str, str], float] = {
    ("bilirubin", "µmol/L"): guards_systemic.BILIRUBIN_UPPER_LIMIT_OF_NORMAL_UMOL_L,
}
NO_UPPER_LIMIT = "no upper reference limit stored (it differs by assay)"

# The symptom-check answers drawn as numbers: (field, label, unit) per panel.
SYMPTOM_PANELS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "per day",
        (("flushing_per_day", "flushing episodes"), ("stools_per_day", "stools")),
    ),
    ("score 0–10", (("abdominal_pain", "abdominal pain"),)),
    ("kg", (("weight_kg", "weight"),)),
)
# Reported weight loss (kg) is marked with the yes/no answers on each day it is above 0.
WEIGHT_LOSS = ("weight_loss_kg", "weight loss reported")
# The yes/no answers, drawn as a mark on the day the answer was yes.
SYMPTOM_FLAGS: tuple[tuple[str, str], ...] = (
    ("wheezing", "wheezing"),
    ("vomiting", "vomiting"),
    ("no_stool_or_gas", "no stool or gas"),
    ("palpitations_or_swelling", "palpitations or swelling"),
    ("fainting", "fainting"),
    ("breathless_at_rest", "breathless at rest"),
)

# Imaging results as the timeline labels them (RECIST 1.1 abbreviations for responses).
IMAGING_LABELS: dict[str, str] = {
    "ned": "NED",
    "recurrence": "recurrence",
    "complete_response": "CR",
    "partial_response": "PR",
    "stable": "SD",
    "progression": "PD",
    "indeterminate": "indeterminate",
}
# Events drawn as procedures on the timeline (the opening surgery is drawn too).
PROCEDURE_EVENTS = ("procedure_recorded", "resection_started", "resection_completed")

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
_STATE_COLOURS = {
    "surveillance": "#c8e6c9",
    "residual_disease": "#ffe0b2",
    "observation": "#dcedc8",
    "recurrence": "#ffcdd2",
    "resection": "#d1c4e9",
    "ssa": "#bbdefb",
    "progression": "#ef9a9a",
    "prrt": "#b2ebf2",
    "everolimus": "#f0f4c3",
    "chemotherapy": "#f8bbd0",
    "supportive": "#d7ccc8",
    "closed": "#e0e0e0",
}
_RC = {
    "svg.hashsalt": "netcare-course-charts",
    "svg.fonttype": "none",
    # Labels carry free text (a planned operation's name): "$...$" in it is text, never
    # mathtext, which would redraw it or fail to parse it.
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.titlesize": 10,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_WIDTH_IN = 10.0
# matplotlib's settings are global and it is not thread-safe: one chart is drawn at a time,
# so a threaded server never mixes two charts' settings.
_DRAWING = threading.Lock()
SVG_NS = "http://www.w3.org/2000/svg"
# Characters XML 1.0 refuses in a document (all controls but tab, LF and CR).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
XLINK_NS = "http://www.w3.org/1999/xlink"


def _printable(text: str) -> str:
    """Free text of the record as a chart label: control characters (no font draws them, and
    XML 1.0 cannot hold most) written as U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


# ---------------------------------------------------------------------------------------------
# The data
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One dated value: ``on`` a date, ``value`` a float in the series' unit, ``ref`` the id
    of the point in the SVG ("lab-12", "check-7-stools_per_day")."""

    on: dt.date
    value: float
    ref: str


@dataclass(frozen=True)
class MarkerSeries:
    """One tumour marker in one stored unit: its results, oldest first.

    ``preop`` is the newest result collected on or before the surgery that opened the course
    (None when there is none); ``upper_limit`` the upper reference limit in ``unit`` when
    NetCare knows one (None otherwise).
    """

    analyte: str
    label: str
    unit: str
    points: tuple[Point, ...]
    preop: Point | None
    upper_limit: float | None

    @property
    def key(self) -> str:
        """``analyte-unit`` in ASCII letters and digits (µmol/24h -> umol24h), for SVG ids."""
        unit = self.unit.replace("µ", "u").replace("μ", "u")
        return f"{self.analyte}-{''.join(c for c in unit if c.isascii() and c.isalnum())}"


@dataclass(frozen=True)
class SymptomSeries:
    """One numeric answer of the symptom check (``field`` of SymptomCheck), oldest first;
    ``unit`` is the panel's unit ("per day", "score 0–10", "kg")."""

    field: str
    label: str
    unit: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Span:
    """A stretch of time on the timeline: ``start`` to ``end`` (``end`` is today for what is
    still running, with ``running`` True)."""

    label: str
    start: dt.date
    end: dt.date
    running: bool = False
    kind: str = ""


@dataclass(frozen=True)
class Mark:
    """One dated thing on the timeline (a procedure, a PRRT cycle, an imaging study)."""

    on: dt.date
    label: str
    ref: str


@dataclass
class Timeline:
    states: list[Span] = field(default_factory=list)  # kind: the state's name
    lines: list[Span] = field(default_factory=list)  # kind: the line's category
    procedures: list[Mark] = field(default_factory=list)
    cycles: list[Mark] = field(default_factory=list)
    imaging: list[Mark] = field(default_factory=list)


@dataclass
class CourseChartData:
    """Everything the charts draw, as plain values (no ORM objects)."""

    surgery_on: dt.date
    today: dt.date
    markers: list[MarkerSeries]
    symptoms: list[SymptomSeries]
    # Value 1.0 on each day a yes/no answer was yes; the last is the weight loss reported
    # (kg) on each day it was above 0.
    flags: list[SymptomSeries]
    timeline: Timeline


def state_label(state: str) -> str:
    """A state's name as the timeline writes it: prrt -> PRRT, residual_disease -> residual
    disease."""
    return labels.code_words(state)


def upper_reference_limit(analyte: str, unit: str) -> float | None:
    """The upper reference limit of ``analyte`` in ``unit`` that NetCare knows, else None.

    Only limits the project's own rules hold are returned (bilirubin 21 µmol/L, taken by the
    NETTER-1 guard, treatments.machine.guards_systemic); none is invented for the others.
    """
    return _UPPER_LIMITS.get((analyte, unit))


def _number(value: Decimal | int | float) -> float:
    return float(value)


def _markers(course: Course) -> list[MarkerSeries]:
    """One query: the course's tumour-marker results, a series per (analyte, unit)."""
    rows = (
        LabResult.objects.filter(course=course, analyte__in=TUMOUR_MARKERS)
        .order_by("collected_on", "pk")
        .values_list("pk", "analyte", "unit", "value", "collected_on")
    )
    grouped: dict[tuple[str, str], list[Point]] = {}
    for pk, analyte, unit, value, collected_on in rows:
        grouped.setdefault((analyte, unit), []).append(
            Point(collected_on, _number(value), f"lab-{pk}")
        )
    surgery_on = course.surgery.performed_on
    order = {analyte: n for n, analyte in enumerate(TUMOUR_MARKERS)}
    series = []
    for (analyte, unit), points in sorted(grouped.items(), key=lambda kv: (order[kv[0][0]], kv)):
        before = [p for p in points if p.on <= surgery_on]
        series.append(
            MarkerSeries(
                analyte=analyte,
                label=schedule.LAB_ANALYTES[analyte].label,
                unit=unit,
                points=tuple(points),
                preop=before[-1] if before else None,
                upper_limit=upper_reference_limit(analyte, unit),
            )
        )
    return series


def _symptoms(course: Course) -> tuple[list[SymptomSeries], list[SymptomSeries]]:
    """One query: every symptom check of the course, as numeric series and yes/no marks."""
    numeric = [name for _, fields_ in SYMPTOM_PANELS for name, _ in fields_]
    numeric.append(WEIGHT_LOSS[0])
    flags = [name for name, _ in SYMPTOM_FLAGS]
    rows = list(
        SymptomCheck.objects.filter(course=course)
        .order_by("reported_on", "pk")
        .values("pk", "reported_on", *numeric, *flags)
    )
    series = [
        SymptomSeries(
            name,
            label,
            unit,
            tuple(
                Point(row["reported_on"], _number(row[name]), f"check-{row['pk']}-{name}")
                for row in rows
                if row[name] is not None
            ),
        )
        for unit, fields_ in SYMPTOM_PANELS
        for name, label in fields_
    ]
    marks = [
        SymptomSeries(
            name,
            label,
            "yes",
            tuple(
                Point(row["reported_on"], 1.0, f"check-{row['pk']}-{name}")
                for row in rows
                if row[name]
            ),
        )
        for name, label in SYMPTOM_FLAGS
    ]
    lost, label = WEIGHT_LOSS
    marks.append(
        SymptomSeries(
            lost,
            label,
            "kg",
            tuple(
                Point(row["reported_on"], _number(row[lost]), f"check-{row['pk']}-{lost}")
                for row in rows
                if row[lost]
            ),
        )
    )
    return series, marks


def _states(course: Course, today: dt.date) -> tuple[list[Span], list[Mark]]:
    """One query: the event log as state bands, and its procedures as marks.

    The course starts in the state its first event left (or its state, with no event) on the
    day it opened; each event's ``to_state`` holds from its day until the next change.
    """
    events = list(
        CourseEvent.objects.filter(course=course)
        .order_by("seq")
        .values("seq", "type", "occurred_on", "from_state", "to_state", "data")
    )
    end = course.closed_on or today
    state = events[0]["from_state"] if events else course.state
    start = course.opened_on
    bands: list[Span] = []
    procedures: list[Mark] = []
    for event in events:
        on = max(event["occurred_on"], start)
        if event["to_state"] != state:
            if on > start:
                bands.append(Span(state, start, on, kind=state))
            state, start = event["to_state"], on
        if event["type"] in PROCEDURE_EVENTS:
            what = str(event["data"].get("procedure") or event["type"]).replace("_", " ")
            if event["type"] == "resection_completed":
                what = "resection completed"
            procedures.append(Mark(event["occurred_on"], _printable(what), f"event-{event['seq']}"))
    bands.append(Span(state, start, max(end, start), running=course.closed_on is None, kind=state))
    return bands, procedures


def _lines(course: Course, today: dt.date) -> tuple[list[Span], list[Mark]]:
    """Two queries: the course's lines as bars, and their PRRT cycles as marks."""
    lines = [
        Span(
            _printable(labels.line_title(line)),
            line.started_on,
            line.ended_on or today,
            running=line.ended_on is None and not line.end_reason,
            kind=line.category,
        )
        for line in TreatmentLine.objects.filter(course=course).order_by("number")
    ]
    cycles = [
        Mark(cycle.given_on, f"C{cycle.number}", f"cycle-{cycle.pk}")
        for cycle in PrrtCycle.objects.filter(line__course=course).order_by("given_on", "number")
    ]
    return lines, cycles


def _imaging(course: Course) -> list[Mark]:
    """One query: the course's imaging studies, labelled by their result."""
    return [
        Mark(on, IMAGING_LABELS.get(result, result), f"imaging-{pk}")
        for pk, on, result in ImagingStudy.objects.filter(course=course)
        .order_by("performed_on", "pk")
        .values_list("pk", "performed_on", "result")
    ]


def chart_data(course: Course, *, today: dt.date) -> CourseChartData:
    """What the charts of ``course`` draw, up to ``today``, in six queries whatever the
    length of its history (a seventh reads the surgery when ``course`` comes without it).

    Raises Course.DoesNotExist if the course is gone; scoping is the caller's (the course
    page reads only courses the user's teams may see).
    """
    if not Course.surgery.is_cached(course):
        course = Course.objects.select_related("surgery").get(pk=course.pk)
    symptoms, flags = _symptoms(course)
    states, procedures = _states(course, today)
    lines, cycles = _lines(course, today)
    procedures.insert(
        0, Mark(course.surgery.performed_on, "surgery", f"surgery-{course.surgery_id}")
    )
    return CourseChartData(
        surgery_on=course.surgery.performed_on,
        today=today,
        markers=_markers(course),
        symptoms=symptoms,
        flags=flags,
        timeline=Timeline(
            states=states,
            lines=lines,
            procedures=procedures,
            cycles=cycles,
            imaging=_imaging(course),
        ),
    )


# ---------------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------------


def _figure(
    height_in: float, rows: int, *, ratios: Sequence[float] | None = None
) -> tuple[Figure, list]:
    """A figure on the SVG canvas with ``rows`` panels above each other, sharing dates."""
    figure = Figure(figsize=(_WIDTH_IN, height_in), layout="constrained")
    FigureCanvasSVG(figure)
    axes = figure.subplots(
        rows, 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": ratios}
    )[:, 0]
    return figure, list(axes)


def _date_axis(ax, start: dt.date, end: dt.date) -> None:
    pad = dt.timedelta(days=max(7, (end - start).days // 40))
    ax.set_xlim(start - pad, end + pad)
    locator = mdates.AutoDateLocator(minticks=4, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(axis="x", color="#e0e0e0", linewidth=0.6)


def _span_of(data: CourseChartData, dates: Iterable[dt.date]) -> tuple[dt.date, dt.date]:
    found = list(dates)
    return min([data.surgery_on, *found]), max([data.today, *found])


def _plot_points(ax, points: Sequence[Point], colour: str, label: str, marker: str = "o") -> None:
    """A line through the points, then each point as its own artist (id ``point-<ref>``)."""
    if len(points) > 1:
        ax.plot([p.on for p in points], [p.value for p in points], color=colour, linewidth=1.4)
    for n, point in enumerate(points):
        ax.plot(
            [point.on],
            [point.value],
            marker=marker,
            markersize=5,
            linestyle="none",
            color=colour,
            label=label if n == 0 else None,
            gid=f"point-{point.ref}",
        )


def _surgery_line(ax, surgery_on: dt.date, *, label: bool) -> None:
    ax.axvline(
        surgery_on,
        color="#616161",
        linewidth=0.8,
        linestyle=":",
        label="surgery" if label else None,
    )


def _svg(figure: Figure, chart_id: str, title: str, description: str) -> str:
    """The figure as an inline SVG element with a title and description for screen readers."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _inline(buffer.getvalue(), chart_id, title, description)


def _inline(svg: str, chart_id: str, title: str, description: str) -> str:
    """Prefix every id (and each reference to one) with ``chart_id``, scope the style
    element to this chart, write a label's control characters as U+FFFD, drop the fixed
    size (the viewBox keeps the proportions) and add ``role="img"`` with a ``<title>`` and
    ``<desc>``."""
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    # matplotlib writes a label's control characters as they are, which XML 1.0 cannot hold.
    svg = _NOT_XML.sub("\ufffd", svg)
    root = ET.fromstring(svg)  # noqa: S314 (our own matplotlib output, not outside input)
    for metadata in root.findall(f"{{{SVG_NS}}}metadata"):
        root.remove(metadata)
    href = f"{{{XLINK_NS}}}href"
    for element in root.iter():
        if "id" in element.attrib:
            element.set("id", f"{chart_id}-{element.get('id')}")
        for name in (href, "href"):
            value = element.get(name)
            if value and value.startswith("#"):
                element.set(name, f"#{chart_id}-{value[1:]}")
        for name in ("clip-path", "mask", "style"):
            value = element.get(name)
            if value and "url(#" in value:
                element.set(name, value.replace("url(#", f"url(#{chart_id}-"))
        if element.tag == f"{{{SVG_NS}}}style" and element.text:
            element.text = element.text.replace("*{", f"#{chart_id} *{{")
    root.set("id", chart_id)
    root.set("role", "img")
    root.set("aria-labelledby", f"{chart_id}-title {chart_id}-desc")
    root.set("class", "nc-chart")
    root.attrib.pop("width", None)
    root.attrib.pop("height", None)
    title_element = ET.Element(f"{{{SVG_NS}}}title", {"id": f"{chart_id}-title"})
    title_element.text = title
    desc_element = ET.Element(f"{{{SVG_NS}}}desc", {"id": f"{chart_id}-desc"})
    desc_element.text = description
    root.insert(0, desc_element)
    root.insert(0, title_element)
    return ET.tostring(root, encoding="unicode")


def markers_svg(data: CourseChartData, chart_id: str = "chart-markers") -> str | None:
    """The tumour markers over time, a panel per (marker, unit), or None with no result.

    Each panel draws the results, the pre-operative value as a dashed horizontal line, the
    surgery as a dotted vertical line, and the upper reference limit when NetCare knows one;
    when it does not, the legend says so instead of drawing a number from elsewhere.
    """
    if not data.markers:
        return None
    with _DRAWING, matplotlib.rc_context(_RC):
        figure, axes = _figure(0.6 + 2.3 * len(data.markers), len(data.markers))
        start, end = _span_of(data, (p.on for s in data.markers for p in s.points))
        for n, (ax, series) in enumerate(zip(axes, data.markers, strict=True)):
            colour = _PALETTE[n % len(_PALETTE)]
            _plot_points(ax, series.points, colour, f"{series.label} ({series.unit})")
            if series.preop is not None:
                ax.axhline(
                    series.preop.value,
                    color=colour,
                    linewidth=1,
                    linestyle="--",
                    alpha=0.8,
                    label=f"before surgery: {series.preop.value:g} {series.unit} "
                    f"({series.preop.on:%Y-%m-%d})",
                    gid=f"preop-{series.key}",
                )
            else:
                ax.plot([], [], " ", label="no pre-operative value recorded")
            if series.upper_limit is not None:
                ax.axhline(
                    series.upper_limit,
                    color="#b00020",
                    linewidth=1,
                    linestyle=(0, (1, 2)),
                    label=f"upper reference limit {series.upper_limit:g} {series.unit}",
                    gid=f"uln-{series.key}",
                )
            else:
                ax.plot([], [], " ", label=NO_UPPER_LIMIT)
            _surgery_line(ax, data.surgery_on, label=True)
            ax.set_ylabel(f"{series.label}\n({series.unit})")
            ax.set_ylim(bottom=0)
            ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
            _date_axis(ax, start, end)
        axes[0].set_title("Tumour markers")
        axes[-1].set_xlabel("date collected")
        described = "; ".join(
            f"{s.label} in {s.unit}: {len(s.points)} results"
            + (f", {s.preop.value:g} before surgery" if s.preop else ", none before surgery")
            for s in data.markers
        )
        return _svg(
            figure,
            chart_id,
            "Tumour markers over time",
            f"{described}. Dashed line: the value before surgery; dotted line: the surgery. "
            f"{NO_UPPER_LIMIT[0].upper()}{NO_UPPER_LIMIT[1:]} unless drawn.",
        )


def symptoms_svg(data: CourseChartData, chart_id: str = "chart-symptoms") -> str | None:
    """The symptom-check answers over time, or None with no check.

    Panels: flushing episodes and stools per day; abdominal pain (0–10); weight (kg); then a
    row per yes/no question, marked on each day the answer was yes, and a row marking the
    weight loss the patient reported (kg) on each day it was above 0.
    """
    if not any(s.points for s in data.symptoms):
        return None
    with _DRAWING, matplotlib.rc_context(_RC):
        rows = len(SYMPTOM_PANELS) + 1
        figure, axes = _figure(8.2, rows, ratios=(1.3, 1.0, 1.2, 1.4))
        start, end = _span_of(data, (p.on for s in data.symptoms for p in s.points))
        colour = iter(_PALETTE)
        for ax, (unit, fields_) in zip(axes, SYMPTOM_PANELS, strict=False):
            for name, _ in fields_:
                series = next(s for s in data.symptoms if s.field == name)
                tint = next(colour)  # each answer keeps its colour whatever is missing
                if series.points:
                    _plot_points(ax, series.points, tint, series.label)
                else:  # weight was not asked before version 2 of the questionnaire
                    ax.plot([], [], " ", label=f"{series.label}: not reported")
            if unit == "kg":
                ax.margins(y=0.4)
            elif unit == "score 0–10":
                ax.set_ylim(-0.3, 10.3)
            elif unit == "per day":
                ax.set_ylim(bottom=0)
            ax.set_ylabel(unit)
            ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
            _surgery_line(ax, data.surgery_on, label=False)
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
            _date_axis(ax, start, end)
        flags_ax = axes[-1]
        for row, series in enumerate(data.flags):
            for point in series.points:
                flags_ax.plot(
                    [point.on],
                    [row],
                    marker="s",
                    markersize=5,
                    linestyle="none",
                    color="#b00020",
                    gid=f"point-{point.ref}",
                )
                if series.unit == "kg":
                    flags_ax.annotate(
                        f"{point.value:g} kg",
                        (mdates.date2num(point.on), row),
                        xytext=(6, 0),
                        textcoords="offset points",
                        va="center",
                        fontsize=7,
                    )
        flags_ax.set_yticks(range(len(data.flags)), [s.label for s in data.flags])
        flags_ax.set_ylim(-0.6, len(data.flags) - 0.4)
        flags_ax.invert_yaxis()
        flags_ax.set_ylabel("answered yes")
        flags_ax.grid(axis="y", color="#f3f3f3", linewidth=0.6)
        _surgery_line(flags_ax, data.surgery_on, label=False)
        _date_axis(flags_ax, start, end)
        flags_ax.set_xlabel("date reported")
        axes[0].set_title("Symptom checks")
        checks = len({p.ref.split("-")[1] for s in data.symptoms for p in s.points})
        return _svg(
            figure,
            chart_id,
            "Symptom-check answers and weight over time",
            f"{checks} symptom checks: flushing episodes and stools per day, abdominal pain "
            "(0 to 10), weight in kg, and the days a yes/no question was answered yes or a "
            "weight loss was reported.",
        )


def timeline_svg(data: CourseChartData, chart_id: str = "chart-timeline") -> str:
    """The course's timeline: state bands, a bar per treatment line (labelled with its drug,
    from start to end or today), procedures, PRRT cycles (numbered) and imaging studies
    (labelled by result, RECIST abbreviations for responses)."""
    timeline = data.timeline
    rows: list[str] = ["state"]
    rows += [line.label for line in timeline.lines]
    rows += ["procedures", "PRRT cycles", "imaging"]
    with _DRAWING, matplotlib.rc_context(_RC):
        figure, (ax,) = _figure(1.4 + 0.42 * len(rows), 1)
        dates = [s.start for s in timeline.states] + [s.end for s in timeline.states]
        dates += [m.on for m in (*timeline.procedures, *timeline.cycles, *timeline.imaging)]
        dates += [line.start for line in timeline.lines]
        start, end = _span_of(data, dates)
        y = {name: n for n, name in enumerate(rows)}
        height = 0.6
        seen: dict[str, Patch] = {}
        for band in timeline.states:
            colour = _STATE_COLOURS.get(band.kind, "#eeeeee")
            ax.broken_barh(
                [(mdates.date2num(band.start), max((band.end - band.start).days, 1))],
                (y["state"] - height / 2, height),
                facecolors=colour,
                edgecolors="#9e9e9e",
                linewidth=0.5,
                gid=f"state-{band.kind}-{band.start:%Y%m%d}",
            )
            if (band.end - band.start).days >= (end - start).days / 12:
                ax.text(
                    band.start + (band.end - band.start) / 2,
                    y["state"],
                    state_label(band.kind),
                    ha="center",
                    va="center",
                    fontsize=8,
                    clip_on=True,
                )
            seen.setdefault(
                band.kind,
                Patch(facecolor=colour, edgecolor="#9e9e9e", label=state_label(band.kind)),
            )
        for n, line in enumerate(timeline.lines):
            colour = _PALETTE[n % len(_PALETTE)]
            ax.broken_barh(
                [(mdates.date2num(line.start), max((line.end - line.start).days, 1))],
                (y[line.label] - height / 2, height),
                facecolors=colour,
                alpha=0.85,
                edgecolors=colour,
                gid=f"line-{n + 1}",
            )
            ax.text(
                line.start + dt.timedelta(days=3),
                y[line.label],
                f"{line.start:%Y-%m-%d} – {'running' if line.running else f'{line.end:%Y-%m-%d}'}",
                va="center",
                fontsize=7,
                color="#ffffff",
                fontweight="bold",
                clip_on=True,
            )
        for name, marks, marker, colour in (
            ("procedures", timeline.procedures, "D", "#6a1b9a"),
            ("PRRT cycles", timeline.cycles, "*", "#00838f"),
            ("imaging", timeline.imaging, "o", "#37474f"),
        ):
            for n, mark in enumerate(marks):
                ax.plot(
                    [mark.on],
                    [y[name]],
                    marker=marker,
                    markersize=8 if marker == "*" else 6,
                    linestyle="none",
                    color=colour,
                    gid=f"point-{mark.ref}",
                )
                ax.annotate(
                    mark.label,
                    (mdates.date2num(mark.on), y[name]),
                    xytext=(0, 7 if n % 2 == 0 else -11),
                    textcoords="offset points",
                    ha="center",
                    fontsize=7,
                )
        ax.axvline(data.today, color="#b00020", linewidth=0.8, linestyle="--")
        ax.annotate(
            "today",
            (mdates.date2num(data.today), -0.5),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
            color="#b00020",
        )
        ax.set_yticks(range(len(rows)), rows)
        ax.set_ylim(len(rows) - 0.4, -0.8)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        ax.legend(
            handles=[
                *seen.values(),
                Line2D([], [], marker="D", linestyle="none", color="#6a1b9a", label="procedure"),
                Line2D([], [], marker="*", linestyle="none", color="#00838f", label="PRRT cycle"),
                Line2D([], [], marker="o", linestyle="none", color="#37474f", label="imaging"),
            ],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            ncols=min(len(seen) + 3, 8),
            frameon=False,
        )
        _date_axis(ax, start, end)
        ax.set_title("Course timeline")
        return _svg(
            figure,
            chart_id,
            "Course timeline",
            f"{len(timeline.states)} state periods, {len(timeline.lines)} treatment lines, "
            f"{len(timeline.procedures)} procedures (with the surgery), {len(timeline.cycles)} "
            f"PRRT cycles and {len(timeline.imaging)} imaging studies, from "
            f"{data.surgery_on:%Y-%m-%d} to {data.today:%Y-%m-%d}.",
        )


@dataclass
class CourseCharts:
    """The course page's charts: the data (for the tables beside them) and the inline SVGs
    (None where there is nothing to draw)."""

    data: CourseChartData
    markers: SafeString | None
    symptoms: SafeString | None
    timeline: SafeString


def _safe(svg: str | None) -> SafeString | None:
    # Serialised by xml.etree from matplotlib's output: every text node and attribute is
    # escaped there, and the SVG holds no script.
    return None if svg is None else mark_safe(svg)  # noqa: S308


def course_charts(course: Course, *, today: dt.date) -> CourseCharts:
    """The charts of ``course`` up to ``today``: ``chart_data`` drawn by the three drawers."""
    data = chart_data(course, today=today)
    return CourseCharts(
        data=data,
        markers=_safe(markers_svg(data)),
        symptoms=_safe(symptoms_svg(data)),
        timeline=mark_safe(timeline_svg(data)),  # noqa: S308 (as _safe)
    )
