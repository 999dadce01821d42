"""One rule for "a value as a finite number" (nst/contracts/cells.py), pinned against what each
of the spellings it replaced gave (copied below from main 9e2f281 as they were), so that no
table, chart, caption or gallery number changed when they became one."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nst.contracts.cells import finite_array, finite_float, finite_or_nan, short_number
from nst.study.figures import layer_charts
from nst.study.tables import stats
from nst.study.gallery import data as gallery_data

CASES = [None, math.nan, math.inf, -math.inf, "", "1e5", "abc", " 2.5 ", "inf", "-Infinity", "nan",
         pd.NA, pd.NaT, np.float32(1.5), np.float64(-0.25), np.float64("nan"), np.float64("inf"),
         np.int64(3), 7, 0, -2.5, 1e300, True, False, [1.0]]
WANT = [None, None, None, None, None, 1e5, None, 2.5, None, None, None,
        None, None, 1.5, -0.25, None, None,
        3.0, 7.0, 0.0, -2.5, 1e300, 1.0, 0.0, None]


# --- the old spellings, as they were ------------------------------------------------------
def old_to_numeric(values) -> np.ndarray:  # stats.finite, paired_difference, grid_array, charts._numbers
    return np.array(pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce"), dtype=float)


def old_summary_number(value) -> float:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return float(number) if np.isfinite(number) else np.nan


def old_select_number(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def old_fmt(value) -> str:  # figures.fmt
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    if math.isnan(number):
        return "-"
    return f"{number:.3g}"


def old_g(value) -> str:  # findings._g, only ever given floats or None
    return f"{value:.3g}" if value is not None and math.isfinite(value) else "-"


def old_relative_to_max(values) -> np.ndarray:
    out = np.array(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    out[~np.isfinite(out) | (out <= 0)] = np.nan
    top = np.nanmax(out) if np.isfinite(out).any() else np.nan
    return out / top if np.isfinite(top) else out


def old_encode_numbers(column: pd.Series) -> dict:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(values).tolist()
    return {"numbers": [float(f"{v:.5g}") if ok else None for v, ok in zip(values.tolist(), finite)]}


def same(a, b) -> bool:
    return (a is None and b is None) or (isinstance(a, float) and isinstance(b, float)
                                          and (a == b or (math.isnan(a) and math.isnan(b))))


# --- the rule -----------------------------------------------------------------------------
@pytest.mark.parametrize("value, want", list(zip(CASES, WANT)), ids=[repr(c) for c in CASES])
def test_finite_float(value, want):
    got = finite_float(value)
    assert got == want and (got is None or type(got) is float)


@pytest.mark.parametrize("value", CASES, ids=[repr(c) for c in CASES])
def test_each_old_scalar_spelling_gave_the_same(value):
    number = finite_float(value)
    if value is pd.NaT:
        # summary._number read NaT as a date, -9.2e18 (nanoseconds); a metric of a run record
        # (JSON) cannot be one, and no number is the rule's answer
        assert old_summary_number(value) < -9e18 and math.isnan(finite_or_nan(value))
    elif not isinstance(value, list):  # a one-element Series of a list is not a scalar cell
        assert same(finite_or_nan(value), old_summary_number(value))
    assert same(number, old_select_number(value))
    infinite = old_select_number(value) is None and old_fmt(value) != "-"
    if infinite:
        # the one difference, deliberate: fmt printed an infinite loss as "inf"; no caption can
        # meet one (run.json and score files write non-finite numbers as null)
        assert old_fmt(value) in ("inf", "-inf") and short_number(value) == "-"
    else:
        assert short_number(value) == old_fmt(value)
    if value is None or type(value) is float:
        assert short_number(value) == old_g(value)


def test_the_vector_form_is_the_scalar_rule_and_what_to_numeric_gave():
    got = finite_array(CASES)
    assert [None if math.isnan(v) else v for v in got] == WANT
    old = old_to_numeric(CASES)
    old[~np.isfinite(old)] = np.nan
    np.testing.assert_array_equal(got, old)


@pytest.mark.parametrize("column", [pd.Series([1.0, np.nan, np.inf, -3.0]), pd.Series([1, 2, 3]),
                                    pd.Series([True, False]), pd.Series(["1.5", "x", None, "inf"]),
                                    pd.Series([1.5, None], dtype="Float64"), np.array([2.0, -np.inf])])
def test_the_vector_form_of_a_column_is_a_new_array(column):
    got = finite_array(column)
    old = old_to_numeric(column)
    old[~np.isfinite(old)] = np.nan
    np.testing.assert_array_equal(got, old)
    got[:] = 99.0  # a copy: the caller may write into it (relative_to_max does)
    again = old_to_numeric(column)
    again[~np.isfinite(again)] = np.nan
    np.testing.assert_array_equal(again, old)


def test_text_counts_as_pandas_reads_it():
    """Python's float() also takes "1_000" and other scripts' digits; no table writes them, and
    pandas (which most of the old spellings used) reads them as no number: so does the rule."""
    assert finite_float("1_000") is None and finite_float("\u0661") is None
    assert np.isnan(old_to_numeric(["1_000", "\u0661"])).all()


@pytest.mark.parametrize("values", [[3.0, None, 1.5, 0.0, -1.0, np.inf, "2"], [np.nan, np.nan], [],
                                    pd.Series([4.0, 2.0, np.nan])])
def test_the_callers_give_what_they_gave(values):
    np.testing.assert_array_equal(layer_charts.relative_to_max(values), old_relative_to_max(values))
    old = old_to_numeric(values)
    np.testing.assert_array_equal(stats.finite(values), old[np.isfinite(old)])
    column = pd.Series(values, dtype=object)
    assert gallery_data.encode_numbers(column) == old_encode_numbers(column)
