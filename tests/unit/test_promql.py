"""golive.promql, pure: presets render the queries golive reads, detection tells libraries apart by their series,
selectors are found in any query, and `or vector(0)` may only fill a numerator whose labels exist."""

from __future__ import annotations

import pytest

from golive import promql
from golive.config import Prometheus as PrometheusSection
from golive.sandbox.app_metrics import METRIC_NAMINGS, Metrics


def test_every_preset_name_has_a_preset_and_a_sandbox_naming():
    assert tuple(promql.PRESETS) == promql.PRESET_NAMES == tuple(METRIC_NAMINGS)
    assert PrometheusSection(url="http://p:9090", preset="micrometer").preset == "micrometer"


def test_golive_preset_renders_the_historical_default_queries():
    queries = promql.PRESETS["golive"].queries("http_requests_total", "http_request_duration_seconds")
    assert queries["error_ratio"].format(job="orchestrator-blue", window="30s") == (
        '(sum(rate(http_requests_total{job="orchestrator-blue",status=~"5.."}[30s])) or vector(0))'
        ' / sum(rate(http_requests_total{job="orchestrator-blue"}[30s]))'
    )
    assert queries["p95_ms"].format(job="b", window="1m") == (
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="b"}[1m]))) * 1000'
    )


@pytest.mark.parametrize(
    ("preset", "counter", "five_xx"),
    [
        ("node", "http_requests_total", 'status_code=~"5.."'),
        ("micrometer", "http_server_requests_seconds_count", 'status=~"5.."'),
        ("python", "http_requests_total", 'status="5xx"'),
        ("go", "http_requests_total", 'code=~"5.."'),
    ],
)
def test_each_preset_selects_5xx_its_way(preset, counter, five_xx):
    chosen = promql.PRESETS[preset]
    expr = chosen.queries(counter, chosen.histograms[0])["error_ratio"].format(job="j", window="1m")
    assert f'{counter}{{job="j",{five_xx}}}' in expr


def series_of(naming: str) -> list[dict[str, str]]:
    """The label sets the sandbox app exposes in a naming (what Prometheus's /api/v1/series would list)."""
    found = []
    for line in Metrics("2.1.0", "blue", naming).render().splitlines():
        if line.startswith("#") or "{" not in line:
            continue
        name, rest = line.split("{", 1)
        pairs = [pair.split("=", 1) for pair in rest.rsplit("}", 1)[0].split(",") if pair]
        found.append({"__name__": name, **{key: value.strip('"') for key, value in pairs}})
    return found


@pytest.mark.parametrize("naming", promql.PRESET_NAMES)
def test_detection_finds_each_library_from_its_own_series(naming):
    detected = promql.detect(series_of(naming))
    assert detected is not None and detected[0].name == naming


def test_detection_of_express_prom_bundle_and_of_nothing():
    # express-prom-bundle has only the histogram, labelled status_code: its _count is the request counter.
    bundle = [{"__name__": "http_request_duration_seconds_count", "status_code": "200", "path": "/"}]
    preset, counter = promql.detect(bundle) or (None, None)
    assert preset is not None and (preset.name, counter) == ("node", "http_request_duration_seconds_count")
    assert promql.detect([{"__name__": "http_requests_total", "outcome": "SUCCESS"}]) is None
    assert promql.detect([]) is None


def test_selectors_are_found_past_functions_grouping_ranges_and_strings():
    expr = ('histogram_quantile(0.95, sum by (le) (rate(http_server_requests_seconds_bucket{job="a b",'
            'uri!~"/actuator.*"}[5m:30s] offset 1m))) * 1000 / on(job) group_left '
            'max without (instance) (up) + {__name__="x", a=~"y\\"z"} > bool 0.5e1 and other')
    found = promql.selectors(expr)
    assert [s.metric for s in found] == ["http_server_requests_seconds_bucket", "up", None, "other"]
    assert found[0].text == 'http_server_requests_seconds_bucket{job="a b",uri!~"/actuator.*"}'
    assert [(m.label, m.op, m.value) for m in found[2].matchers] == [("__name__", "=", "x"), ("a", "=~", 'y"z')]
    assert found[0].only({"job"}).text == 'http_server_requests_seconds_bucket{job="a b"}'
    with pytest.raises(promql.PromQLError, match="unterminated string"):
        promql.selectors('rate(x{job="oops}[1m])')


def test_only_the_left_operand_of_or_vector_zero_is_fillable():
    expr = ('(sum(rate(a{job="j",status=~"5.."}[1m])) or vector(0)) / sum(rate(a{job="j"}[1m]))'
            " + (b or vector(1)) + (c or on() vector(0))")
    fillable = {s.text: s.fillable for s in promql.selectors(expr)}
    assert fillable == {'a{job="j",status=~"5.."}': True, 'a{job="j"}': False, "b{}": False, "c{}": False}


def test_or_vector_zero_fills_only_where_the_denominator_carries_the_label():
    numerator = promql.selectors('(sum(rate(a{job="j",status=~"5.."}[1m])) or vector(0)) / sum(rate(a[1m]))')[0]
    assert promql.fill_allowed(numerator, {"job", "instance", "status"})  # no 5xx yet: 0 is the truth
    assert not promql.fill_allowed(numerator, {"job", "instance", "status_code"})  # wrong label: never 0
    assert not promql.fill_allowed(numerator, set())  # no series at all: never 0
    plain = promql.selectors('sum(rate(a{job="j",status=~"5.."}[1m]))')[0]
    assert not promql.fill_allowed(plain, {"job", "status"})  # not an `or vector(0)` operand
