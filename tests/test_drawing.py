"""helpers.drawing.center_digit and its JavaScript twin: MNIST's own centring, and bad drawings refused.

The round trip on real digits is the check that the centre is MNIST's: a digit
of the shipped subset, blown up 3x and prepared again, must come back as itself.
"""

import math

import pytest
import torch

from helpers import data, drawing
from tests.test_network_explorer import node


def blown_up(digit: torch.Tensor, k: int = 3) -> torch.Tensor:
    """(28, 28) -> (28k, 28k), each pixel a k x k block."""
    return digit.repeat_interleave(k, 0).repeat_interleave(k, 1)


def test_a_real_digit_scaled_up_comes_back_as_itself():
    # With the centre at (13.5, 13.5) 2,551 of the 10,000 shipped digits came back
    # unchanged; at MNIST's (14, 14), 9,998 (the two others have a box under 20 pixels).
    ds = data.load_mnist_subset()
    digits = ds.train.images[:1000, 0].double() / 255
    same = sum(torch.allclose(drawing.center_digit(blown_up(d)), d, rtol=0, atol=1e-9) for d in digits)
    assert same >= 995, f"only {same} of 1000 digits came back as themselves"


def test_real_digits_have_their_centre_of_mass_where_center_digit_puts_it():
    ds = data.load_mnist_subset()
    for d in ds.train.images[:500, 0].double():
        cy, cx = drawing.center_of_mass(d)
        assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_the_js_twin_puts_real_digits_back_too():
    ds = data.load_mnist_subset()
    digits = ds.train.images[:20, 0].double() / 255
    got = node("console.log(JSON.stringify(input.map((img) => Array.from("
               "m.centerDigit(Float64Array.from(img.flat()), img.length, img[0].length)))));",
               [blown_up(d).tolist() for d in digits])
    for d, js in zip(digits, got):
        assert torch.allclose(torch.tensor(js, dtype=torch.float64).view(28, 28), d, rtol=0, atol=1e-9)


def test_values_keep_their_scale():
    digit = data.load_mnist_subset().train.images[0, 0]          # uint8, 0-255
    out = drawing.center_digit(blown_up(digit))
    assert out.max() == digit.max() == 255 and torch.equal(out, digit.double())
    assert torch.allclose(drawing.center_digit(blown_up(digit) / 255), out / 255)


@pytest.mark.parametrize("bad, words", [
    (float("nan"), "finite"),
    (math.inf, "finite"),
    (-0.5, ">= 0"),                                      # e.g. a standardised drawing
])
def test_pixels_that_are_not_ink_are_refused(bad, words):
    ink = torch.zeros(40, 40, dtype=torch.float64)
    ink[10:30, 15:25] = 1.0
    ink[0, 0] = bad
    with pytest.raises(ValueError, match=words):
        drawing.center_digit(ink)


def test_negative_ink_no_longer_blanks_the_digit_silently():
    ink = torch.zeros(40, 40, dtype=torch.float64)
    ink[10:30, 15:25] = 1.0
    standardised = (ink - 0.13) / 0.31                           # paper is now -0.42
    with pytest.raises(ValueError, match="before it is standardised"):
        drawing.center_digit(standardised)


@pytest.mark.parametrize("kwargs, words", [
    ({"box": 0}, "box .*between 1 and 28"), ({"box": -3}, "box .*between 1 and 28"),
    ({"field": 0}, "field .*>= 1"), ({"box": 2.5}, "box .*int"),
    ({"box": 30}, "box .*between 1 and 28.*30"),
])
def test_box_and_field_are_checked(kwargs, words):
    ink = torch.ones(5, 5)
    with pytest.raises(ValueError, match=words):
        drawing.center_digit(ink, **kwargs)


@pytest.mark.parametrize("pixel, box, field, words", [
    ("NaN", 20, 28, "finite"), ("Infinity", 20, 28, "finite"), ("-1", 20, 28, ">= 0"),
    ("1", 0, 28, "1 <= box <= field"), ("1", 20, 0, "1 <= box <= field"),
    ("1", 30, 28, "1 <= box <= field"), ("1", 2.5, 28, "1 <= box <= field"),
])
def test_js_twin_refuses_the_same_drawings(pixel, box, field, words):
    script = (f"const img = new Float64Array(25).fill(1); img[7] = {pixel};\n"
              f"try {{ m.centerDigit(img, 5, 5, {box}, {field}); console.log(JSON.stringify('accepted')); }}\n"
              "catch (e) { console.log(JSON.stringify(e.message)); }")
    message = node(script)
    assert words in message


def test_js_and_python_agree_on_odd_fields_and_other_boxes():
    ink = torch.zeros(50, 30, dtype=torch.float64)
    ink[5:45, 10:22] = torch.linspace(0.1, 1.0, 12)
    for box, field in ((20, 28), (9, 15), (15, 15)):
        js = node(f"console.log(JSON.stringify(Array.from(m.centerDigit(Float64Array.from(input), 50, 30,"
                  f" {box}, {field}))));", ink.flatten().tolist())
        want = drawing.center_digit(ink, box, field)
        assert torch.allclose(torch.tensor(js, dtype=torch.float64).view(field, field), want, atol=1e-12)
        cy, cx = drawing.center_of_mass(want)
        assert abs(cy - field // 2) <= 0.5 and abs(cx - field // 2) <= 0.5
