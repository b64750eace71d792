"""helpers.data.sample_photo: the real photo every kernel demo uses."""

import pytest
import torch

from helpers import data


def test_gray_and_colour_shapes_and_range():
    gray = data.sample_photo()
    colour = data.sample_photo(gray=False)
    assert gray.shape == (600, 512) and gray.dtype == torch.float32
    assert colour.shape == (3, 600, 512)
    assert 0.0 <= gray.min() < 0.1 and 0.9 < gray.max() <= 1.0


def test_resize_keeps_the_aspect_ratio():
    assert data.sample_photo(size=96).shape == (112, 96)     # shorter side 512 -> 96
    assert data.sample_photo(size=64, gray=False).shape == (3, 75, 64)


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_bad_size(size):
    with pytest.raises(ValueError, match="size must be (an int|>= 1)"):
        data.sample_photo(size=size)
