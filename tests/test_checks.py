"""helpers.checks: the one place that says what counts as an int, a float or a bool."""

import math

import numpy as np
import pytest
import torch

from helpers import checks


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3), torch.tensor(3)])
def test_ints_come_back_as_python_ints(value):
    got = checks.as_int(value, "n", low=0, high=3)
    assert got == 3 and type(got) is int


@pytest.mark.parametrize("value", [True, np.bool_(False), 3.0, "3", None, torch.tensor(3.0),
                                   torch.tensor([3])])
def test_what_is_not_an_int_is_refused_by_name(value):
    with pytest.raises(ValueError, match="n must be an int"):
        checks.as_int(value, "n")


def test_bounds_name_the_range_and_the_value():
    with pytest.raises(ValueError, match="between 1 and 5.*got 6"):
        checks.as_int(6, "n", low=1, high=5)
    with pytest.raises(ValueError, match=">= 0.*got -1"):
        checks.as_int(-1, "n", low=0)
    with pytest.raises(ValueError, match="<= 1.0.*got 2.0"):
        checks.as_float(2, "p", high=1.0)


def test_floats_are_the_number_the_reader_wrote():
    assert checks.as_float(np.float32(1e-3), "lr") == 0.001     # not 0.0010000000474974513
    assert checks.as_float(torch.tensor(0.5), "m") == 0.5 and checks.as_float(7, "x") == 7.0
    assert math.copysign(1, checks.as_float(-0.0, "x")) == 1   # -0.0 and 0.0 are one number
    for bad in (math.nan, math.inf, True, "0.1", 1j):
        with pytest.raises(ValueError, match="x must be a"):
            checks.as_float(bad, "x")


def test_bools_and_choices():
    assert checks.as_bool(np.bool_(True), "flip") is True and checks.as_bool(torch.tensor(False), "f") is False
    for bad in (1, "no", None):
        with pytest.raises(ValueError, match="flip must be True or False"):
            checks.as_bool(bad, "flip")
    assert checks.one_of("max", "mode", ("max", "avg")) == "max"
    with pytest.raises(ValueError, match="'max', 'avg'.*'min'"):
        checks.one_of("min", "mode", ("max", "avg"))
