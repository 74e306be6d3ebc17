"""Issue 22 item 1: the maps' default classes (clusteratlas.queries.classes), on hand-worked examples, on null and
degenerate input, and as the API's map layer gives them."""

from __future__ import annotations

import math
import random

import pytest

from clusteratlas.queries.classes import (
    LQ_BREAKS,
    diverging_classes,
    lisa_classes,
    map_classes,
    quantile_classes,
    resolve_scheme,
)


def _class_of(value: float, breaks: list[float]) -> int:
    return sum(value >= b for b in breaks)


def test_lq_has_fixed_breaks_around_one_that_never_lump_3_2_with_0_7():
    # the county map of issue 22: quantiles put 3.23 with 0.66; fixed breaks never do, whatever the other values
    values = [0.61, 0.62, 0.63, 0.64, 0.66, 0.7, 3.23]
    found = map_classes(values, "lq")
    assert found.scheme == "lq" and found.breaks == [0.8, 1.25, 2.0] == list(LQ_BREAKS)
    assert _class_of(3.23, found.breaks) == 3 and _class_of(0.7, found.breaks) == 0
    assert _class_of(1.0, found.breaks) == 1 and _class_of(1.25, found.breaks) == 2  # a bound opens its class
    # the state map of issue 22 (every LQ close to 1): still the same four classes, no "0.96 – 0.96"
    assert map_classes([0.957, 0.958, 0.96, 0.961, 0.962, 0.964], "lq").breaks == list(LQ_BREAKS)


def test_quantiles_hand_worked():
    # 10 values, quintiles by linear interpolation: 2.8, 4.6, 6.4, 8.2 -> 2 significant digits: 2.8, 4.6, 6.4, 8.2
    found = quantile_classes([1, 2, 3, 4, 5, 6, 7, 8, 9, 10.5])
    assert found.breaks == [2.8, 4.6, 6.4, 8.2] and found.digits == 1
    # whole numbers (employment) get whole bounds: quintiles of 100..1000 = 280, 460, 640, 820
    found = quantile_classes([100 * i for i in range(1, 11)])
    assert found.breaks == [280, 460, 640, 820] and found.digits == 0
    # large counts are rounded to 2 significant digits: 12 345 -> 12 000
    found = quantile_classes([1000, 5000, 12345, 20000, 30000, 41000])
    assert all(_round2(b) == b for b in found.breaks), found.breaks


def _round2(x: float) -> float:
    return round(x, 1 - math.floor(math.log10(abs(x))))


def test_quantile_bounds_stay_distinct_when_values_are_close():
    # LQs close to 1 (a state map): 2 significant digits would read "0.96 – 0.96"; more digits are used instead
    values = [0.9571, 0.9583, 0.9602, 0.9611, 0.9634, 0.9648, 0.9655, 0.9671, 0.9689, 0.9702]
    found = quantile_classes(values)
    assert len(found.breaks) == len(set(found.breaks)) == 4
    labels = [f"{b:.{found.digits}f}" for b in found.breaks]
    assert len(set(labels)) == 4, labels  # every bound reads differently at the legend's digits
    assert found.digits == 3


def test_every_quantile_class_holds_a_region():
    # many zeros (counties without the cluster): ties collapse bounds, and no class is left empty
    values = [0] * 30 + [5, 80, 300, 2000, 9000]
    found = quantile_classes(values)
    for i in range(len(found.breaks) + 1):
        lo = found.breaks[i - 1] if i else -math.inf
        hi = found.breaks[i] if i < len(found.breaks) else math.inf
        assert any(lo <= v < hi for v in values), (i, found.breaks)


@pytest.mark.parametrize("values, reason", [
    ([], "no region has a value"),
    ([None, float("nan")], "no region has a value"),
    ([3.5], "one region only"),
    ([2.0, 2.0, 2.0, None], "every region has the same value"),
    ([0, 0, 0], "every region has the same value"),
])
def test_degenerate_input_has_no_classes_and_says_why(values, reason):
    for metric in ("employment", "employment_cagr"):
        found = map_classes(values, metric)
        assert found.breaks == [] and found.reason and found.reason.startswith(reason), (metric, found)
        assert found.as_dict()["reason"]
    assert map_classes([], "lq").reason == "no region has a value"
    assert map_classes([None, 1.4], "employment").reason.startswith("one region only")  # NaN and None are no value


def test_growth_diverges_around_zero_symmetrically():
    # absolute growth rates 0.001..0.03; the 90th percentile of |x| is 0.0272 -> m = 0.05 (1, 2, 2.5, 5 x 10^k)
    values = [-0.03, -0.02, -0.01, -0.001, 0.001, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03]
    found = map_classes(values, "employment_cagr")
    assert found.scheme == "diverging" and found.kind == "diverging" and found.percent
    assert found.breaks == [-0.05, -0.025, 0.0, 0.025, 0.05]
    assert found.digits == 1  # 2.5 %
    assert diverging_classes([-4, 2, 3], percent=False).breaks == [-5, -2.5, 0.0, 2.5, 5]


def test_null_data_random_values_get_evenly_filled_quantiles():
    """Random values carry no story: each of the five quantile classes holds about a fifth of them."""
    rng = random.Random(22)
    values = [rng.lognormvariate(8, 1) for _ in range(2000)]
    found = quantile_classes(values)
    assert len(found.breaks) == 4
    counts = [sum(_class_of(v, found.breaks) == i for v in values) for i in range(5)]
    assert all(300 < c < 500 for c in counts), counts


def test_categories_and_schemes():
    assert map_classes([0, 1, 3], "stars").breaks == [1, 2, 3]
    assert map_classes([True, False], "strong").scheme == "yes-no"
    assert resolve_scheme("lq") == "lq" and resolve_scheme("employment") == "quantiles"
    assert resolve_scheme("lq", "quantiles") == "quantiles"
    assert map_classes([0.5, 0.9, 1.3, 2.4, 0.7, 1.1], "lq", "quantiles").scheme == "quantiles"
    with pytest.raises(ValueError, match="lisa_classes"):
        map_classes([1, 2], "lq", "lisa")


def test_lisa_says_where_there_is_no_hot_spot():
    found = lisa_classes({"A": (1, True), "B": (3, True), "C": (1, False), "D": (4, True)}, level="county",
                         cluster="C09")
    assert found.regions == {"hot": ["A"], "cold": ["B"]} and found.reason is None
    none = lisa_classes({"A": (1, False), "B": (2, False)}, level="county", cluster="C01")
    assert none.regions["hot"] == [] and "no hot spot" in none.as_dict()["reason"] and "2 regions" in none.as_dict()[
        "reason"]
    missing = lisa_classes(None, level="state", cluster="C01")
    assert "clusteratlas hotspots --level state" in missing.as_dict()["reason"]


def test_the_api_map_layer_gives_the_classes(tmp_path):
    from fastapi.testclient import TestClient

    from clusteratlas.api import build_demo_atlas
    from clusteratlas.server import Settings, create_app

    path = tmp_path / "demo.duckdb"
    build_demo_atlas(path)
    with TestClient(create_app(Settings(atlas=str(path), read_only=True, warm=False))) as client:
        meta = client.get("/api/v1/clusters/C01/map", params={"level": "state"}).json()["meta"]
        assert meta["classes"]["breaks"] == list(LQ_BREAKS)
        hot = client.get("/api/v1/clusters/C09/map", params={"level": "county", "classes": "lisa"}).json()["meta"]
        assert hot["classes"]["regions"]["hot"], hot
        cold = client.get("/api/v1/clusters/C01/map", params={"level": "county", "classes": "lisa"}).json()["meta"]
        assert cold["classes"]["regions"]["hot"] == [] and "no hot spot" in cold["classes"]["reason"]
        growth = client.get("/api/v1/clusters/C01/map", params={"metric": "employment_cagr"}).json()["meta"]
        assert 0.0 in growth["classes"]["breaks"] and growth["classes"]["scheme"] == "diverging"
        assert client.get("/api/v1/clusters/C01/map", params={"classes": "jenks"}).status_code == 422
