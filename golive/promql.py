"""PromQL golive reads: the presets of common instrumentation libraries, and the selectors inside a query.

Pure Python (no network): ``golive.metrics`` asks Prometheus about what this module finds.

Presets. Each names a request counter, its status label and how 5xx answers are spelled, and a request-duration
histogram, as the library exposes them by default. Where a library's naming varies, a preset lists candidates in
order; the first with series for the job is used. Looked up, not invented:

- ``golive``: the sandbox's own naming, ``http_requests_total{status="500"}`` and ``http_request_duration_seconds``.
- ``node``: prom-client applications (``new client.Counter({name: "http_requests_total", labelNames: ["method",
  "route", "status_code"]})``, e.g. github.com/nottejas/Prometheus-Grafana src/metrics/requestCount.ts) and
  express-prom-bundle, whose one metric is the histogram ``http_request_duration_seconds`` "labeled with
  status_code, method and path" (npmjs.com/package/express-prom-bundle); its ``_count`` then counts requests.
  Some Node services name their histogram ``api_request_duration_seconds`` (measured, /work/shared/FIELD-NOTES.md).
- ``micrometer``: Spring Boot / Micrometer's timer ``http_server_requests_seconds`` with ``_count``, ``_sum`` and,
  when percentiles-histogram is on, ``_bucket``; labels ``exception, method, outcome, status, uri``
  (micrometer-metrics/micrometer issue 3207; Red Hat Quarkus "HTTP metrics").
- ``python``: prometheus-fastapi-instrumentator: "Counter http_requests_total with handler, status and method",
  "Status codes are grouped into 2xx, 3xx and so on", "Histogram http_request_duration_seconds with handler" and
  "http_request_duration_highr_seconds without any labels. Large number of buckets (>20) for accurate percentile
  calculations" (pypi.org/project/prometheus-fastapi-instrumentator, README).
- ``go``: client_golang's promhttp: ``InstrumentHandlerCounter``: "the only allowed label names are "code" and
  "method"" (pkg.go.dev promhttp); e.g. ``http_requests_total`` with ``[]string{"code", "method"}``.

Selectors. ``selectors(expr)`` finds each vector selector of a query (``name{matchers}``, ``name``, ``{matchers}``)
with a small lexer: it skips strings, numbers, durations in ``[...]``, function names (an identifier followed by
``(``), the label lists of ``by``/``without``/``on``/``ignoring``/``group_left``/``group_right`` and the binary
keywords. A selector is *fillable* when it sits in the left operand of ``or vector(0)`` (earlier in the same
parenthesised group as the ``or``): golive lets such a selector match nothing (no 5xx at all is 0) only when its
metric has series for the job that carry every label it matches on (``fill_allowed``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

# --- presets -----------------------------------------------------------------------------------------

FIVE_XX_CODES = "5.."  # a regex over three-digit status codes
FIVE_XX_CLASS = "5xx"  # prometheus-fastapi-instrumentator's grouped status


@dataclass(frozen=True)
class Preset:
    """How one instrumentation library names its request counter and its duration histogram."""

    name: str
    counters: tuple[str, ...]  # request counters, first that has series for the job wins
    status_label: str
    grouped_status: bool  # True: status values are classes ("5xx"); False: codes ("503")
    histograms: tuple[str, ...]  # histogram base names (``_bucket`` is appended), first with series wins

    @property
    def five_xx_matcher(self) -> str:
        if self.grouped_status:
            return f'{self.status_label}="{FIVE_XX_CLASS}"'
        return f'{self.status_label}=~"{FIVE_XX_CODES}"'

    def status_value_ok(self, value: str) -> bool:
        """Whether a status label value is spelled the way this library spells it (``503`` or ``5xx``)."""
        pattern = r"[1-5]xx" if self.grouped_status else r"[1-5][0-9][0-9]"
        return re.fullmatch(pattern, value) is not None

    def queries(self, counter: str, histogram: str) -> dict[str, str]:
        """The preset's query templates (``{job}`` and ``{window}`` to fill) for a counter and a histogram."""
        job = 'job="{job}"'
        return {
            # `or vector(0)`: with no 5xx at all the numerator has no series; golive allows the 0 only when the
            # counter's series for the job carry the status label (fill_allowed).
            "error_ratio": f"(sum(rate({counter}{{{{{job},{self.five_xx_matcher}}}}}[{{window}}])) or vector(0))"
            f" / sum(rate({counter}{{{{{job}}}}}[{{window}}]))",
            "p95_ms": f"histogram_quantile(0.95, sum by (le) (rate({histogram}_bucket{{{{{job}}}}}[{{window}}])))"
            " * 1000",
            "request_rate": f"sum(rate({counter}{{{{{job}}}}}[{{window}}]))",
        }


# fmt: off
PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("golive", ("http_requests_total",), "status", False, ("http_request_duration_seconds",)),
        Preset("node", ("http_requests_total", "http_request_duration_seconds_count"), "status_code", False,
               ("http_request_duration_seconds", "api_request_duration_seconds")),
        Preset("micrometer", ("http_server_requests_seconds_count",), "status", False,
               ("http_server_requests_seconds",)),
        Preset("python", ("http_requests_total",), "status", True,
               ("http_request_duration_highr_seconds", "http_request_duration_seconds")),
        Preset("go", ("http_requests_total",), "code", False, ("http_request_duration_seconds",)),
    )
}
# fmt: on
# The names `prometheus.preset` accepts (the configuration model's type); PRESETS has one of each.
PresetName = Literal["golive", "node", "micrometer", "python", "go"]
PRESET_NAMES: tuple[str, ...] = get_args(PresetName)
QUERY_FIELDS = ("error_ratio", "p95_ms", "request_rate")
# Every metric a preset reads: detection asks Prometheus for the job's series of these names only.
DETECTION_METRICS = tuple(dict.fromkeys(name for p in PRESETS.values() for name in p.counters))


def detect(series: list[dict[str, str]]) -> tuple[Preset, str] | None:
    """The first preset (in PRESETS order) whose counter has a series with its status label spelled its way.

    ``series`` are label sets (with ``__name__``) of the job's request counters. Returns the preset and the
    counter it matched, or None when no preset fits.
    """
    for preset in PRESETS.values():
        for counter in preset.counters:
            for labels in series:
                if labels.get("__name__") == counter and preset.status_value_ok(labels.get(preset.status_label, "")):
                    return preset, counter
    return None


# --- selectors ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # =, !=, =~, !~
    value: str

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.label}{self.op}"{escaped}"'


@dataclass(frozen=True)
class Selector:
    """One vector selector of a query: its metric name (None for ``{__name__=...}`` forms) and matchers."""

    metric: str | None
    matchers: tuple[Matcher, ...]
    fillable: bool = False  # in the left operand of `or vector(0)`

    @property
    def text(self) -> str:
        """The selector as PromQL (what ``/api/v1/series?match[]=`` takes)."""
        inner = ",".join(str(m) for m in self.matchers)
        return f"{self.metric or ''}{{{inner}}}"

    def only(self, labels: set[str]) -> Selector:
        """This selector keeping only the matchers on ``labels`` (``{"job"}``: the metric's series for the job)."""
        return Selector(self.metric, tuple(m for m in self.matchers if m.label in labels))

    @property
    def labels(self) -> list[str]:
        """The label names it matches on, besides the metric name."""
        return [m.label for m in self.matchers if m.label != "__name__"]


class PromQLError(ValueError):
    """A query golive cannot take apart (an unterminated string or brace)."""


_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}
_LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NUMBER = re.compile(r"(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)[smhdwy]?")
_MATCHER = re.compile(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*")
_GROUPING = re.compile(r"(by|without)\s*\(", re.IGNORECASE)
_OR_VECTOR_ZERO = re.compile(r"or\s+vector\s*\(\s*0(\.0*)?\s*\)")


def _string_end(expr: str, start: int) -> int:
    """Index just past the string literal starting at ``start``."""
    quote = expr[start]
    index = start + 1
    while index < len(expr):
        char = expr[index]
        if char == "\\" and quote != "`":
            index += 2
            continue
        if char == quote:
            return index + 1
        index += 1
    raise PromQLError(f"unterminated string at character {start}: {expr}")


def _unquote(literal: str) -> str:
    if literal[0] == "`":
        return literal[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), literal[1:-1])


def _matchers(expr: str, start: int) -> tuple[tuple[Matcher, ...], int]:
    """Parse ``{a="x", b=~"y"}`` starting at the ``{``; return the matchers and the index past ``}``."""
    index = start + 1
    found: list[Matcher] = []
    while True:
        while index < len(expr) and expr[index] in " \t\n,":
            index += 1
        if index < len(expr) and expr[index] == "}":
            return tuple(found), index + 1
        match = _MATCHER.match(expr, index)
        if not match or match.end() >= len(expr) or expr[match.end()] not in "\"'`":
            raise PromQLError(f"cannot read the label matchers at character {index}: {expr}")
        end = _string_end(expr, match.end())
        found.append(Matcher(match[1], match[2], _unquote(expr[match.end():end])))
        index = end


def selectors(expr: str) -> list[Selector]:
    """Every vector selector in a PromQL expression, in order (see the module docstring for the rules)."""
    found: list[tuple[str | None, tuple[Matcher, ...], tuple[int, ...]]] = []
    fillable: set[int] = set()
    groups: list[int] = []  # the parenthesised groups we are in, outermost first
    next_group = 0
    index, length = 0, len(expr)
    while index < length:
        char = expr[index]
        if char.isspace():
            index += 1
        elif char in "\"'`":
            index = _string_end(expr, index)
        elif char == "[":  # a range or subquery: durations only
            end = expr.find("]", index)
            if end < 0:
                raise PromQLError(f"unterminated [ at character {index}: {expr}")
            index = end + 1
        elif char == "(":
            next_group += 1
            groups.append(next_group)
            index += 1
        elif char == ")":
            if groups:
                groups.pop()
            index += 1
        elif char == "{":
            matchers, index = _matchers(expr, index)
            found.append((None, matchers, tuple(groups)))
        elif (number := _NUMBER.match(expr, index)) and not _IDENT.match(expr, index):
            index = number.end() or index + 1
        elif ident := _IDENT.match(expr, index):
            word, index = ident[0], ident.end()
            rest = index
            while rest < length and expr[rest].isspace():
                rest += 1
            following = expr[rest] if rest < length else ""
            if word == "or" and _OR_VECTOR_ZERO.match(expr, ident.start()):
                # Every selector seen so far in this group (nested or not) is the left operand.
                here = tuple(groups)
                fillable.update(i for i, (_m, _ms, where) in enumerate(found) if where[: len(here)] == here)
            if word.lower() in _LABEL_LISTS and following == "(":
                end = expr.find(")", rest)
                index = (end + 1) if end >= 0 else length
            elif word.lower() in _KEYWORDS | _LABEL_LISTS or following == "(" or _GROUPING.match(expr, rest):
                continue  # a keyword, a function name (its "(" opens a group next) or `sum by (...)`
            elif following == "{":
                matchers, index = _matchers(expr, rest)
                found.append((word, matchers, tuple(groups)))
            else:
                found.append((word, (), tuple(groups)))
        else:
            index += 1
    return [Selector(metric, matchers, i in fillable) for i, (metric, matchers, _where) in enumerate(found)]


def fill_allowed(selector: Selector, labels_present: set[str]) -> bool:
    """Whether ``or vector(0)`` may stand in for this selector's missing series.

    Only for a fillable selector whose metric has series for the job (``labels_present`` is the union of their
    label names, empty when there are none) carrying every label the selector matches on: then "no series" means
    "no such answer yet", not "wrong name".
    """
    return selector.fillable and bool(labels_present) and set(selector.labels) <= labels_present
