"""A value as a finite number: the one rule for a table cell, a record's number or a history
value, and the short form captions print it in.

A cell can hold anything a table or a record holds: a float (NaN where a run had no value), a
numpy scalar, None, pandas' NA, text read from a CSV, a bool. Whatever holds a finite number is
that number; everything else (missing, infinite, text that is no number) is no number. Text
counts as pandas reads it (`pd.to_numeric`): decimal ASCII digits, so Python's own spellings
that no table writes ("1_000", non-ASCII digits) are no number either.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np


def finite_float(value: Any) -> float | None:
    """`value` as a finite float, or None (None, NaN, pd.NA, +-inf, text that is no number)."""
    if isinstance(value, str) and ("_" in value or not value.isascii()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):  # None, pd.NA, pd.NaT, "", "abc", a list
        return None
    return number if math.isfinite(number) else None


def finite_or_nan(value: Any) -> float:
    """finite_float with NaN for no number: what a float column of a table holds."""
    number = finite_float(value)
    return math.nan if number is None else number


def finite_array(values: Iterable) -> np.ndarray:
    """finite_or_nan of each value, as a new float array (a numeric column converts at once)."""
    if isinstance(values, np.ndarray) or hasattr(values, "dtype"):
        array = np.asarray(values)
        if array.dtype.kind in "biuf":  # bool, int, unsigned, float: float() of each, vectorised
            out = array.astype(float)  # a copy
            out[~np.isfinite(out)] = np.nan
            return out
    return np.array([finite_or_nan(v) for v in values], dtype=float)


def short_number(value: Any) -> str:
    """A number for a caption or a message: 3 significant digits, '-' when it is no number."""
    number = finite_float(value)
    return "-" if number is None else f"{number:.3g}"
