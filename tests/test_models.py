"""helpers.models: parameter counts checked against hand arithmetic, output shapes."""

import pytest
import torch
from torch import nn

from helpers import models


def conv(cin, cout, k):
    return k * k * cin * cout + cout


def dense(fin, fout):
    return fin * fout + fout


def test_seeds_mnist_net_has_442446_parameters():
    expected = conv(1, 32, 5) + 2 * 32 + dense(6272, 70) + dense(70, 30) + dense(30, 10)
    assert expected == 442_446
    assert models.count_parameters(models.SeedsMNISTNet()) == 442_446


def test_lenet_on_28x28_with_padding_2_has_61706_parameters():
    expected = conv(1, 6, 5) + conv(6, 16, 5) + dense(400, 120) + dense(120, 84) + dense(84, 10)
    assert expected == 61_706
    assert models.count_parameters(models.LeNet(in_channels=1, image_size=28, padding=2)) == 61_706


def test_cifar_cnn_is_lenet_on_32x32_colour():
    expected = conv(3, 6, 5) + conv(6, 16, 5) + dense(400, 120) + dense(120, 84) + dense(84, 10)
    assert models.count_parameters(models.cifar_cnn()) == expected == 62_006


def test_lenet_batch_norm_variant_adds_two_parameters_per_channel():
    extra = 2 * (6 + 16 + 120 + 84)
    assert models.count_parameters(models.LeNet(batch_norm=True)) == 61_706 + extra


def test_dense_net_and_small_vgg_counts():
    assert models.count_parameters(models.DenseNet(784, (256, 128))) == \
        dense(784, 256) + dense(256, 128) + dense(128, 10)
    widths, c, expected = (32, 64, 128), 3, 0
    for w in widths:
        expected += conv(c, w, 3) + 2 * w + conv(w, w, 3) + 2 * w
        c = w
    expected += dense(128, 10)
    assert models.count_parameters(models.SmallVGG(widths=widths)) == expected


@pytest.mark.parametrize("model, shape", [
    (models.SeedsMNISTNet(), (1, 28, 28)),
    (models.DenseNet(784), (1, 28, 28)),
    (models.LeNet(), (1, 28, 28)),
    (models.LeNet(3, 10, image_size=32, padding=0), (3, 32, 32)),
    (models.cifar_cnn(), (3, 32, 32)),
    (models.SmallVGG(), (3, 32, 32)),
    (models.SmallVGG(1, 7, widths=(8, 16)), (1, 28, 28)),
])
def test_models_map_a_batch_to_class_scores(model, shape):
    model.eval()
    out = model(torch.zeros(5, *shape))
    n_classes = model(torch.zeros(1, *shape)).shape[1]
    assert out.shape == (5, n_classes) and n_classes in (7, 10)


def test_lenet_feature_maps_are_16x5x5():
    x = torch.zeros(2, 1, 28, 28)
    assert models.LeNet().features(x).shape == (2, 16, 5, 5)
    assert models.cifar_cnn().features(torch.zeros(2, 3, 32, 32)).shape == (2, 16, 5, 5)


def test_lenet_refuses_an_input_too_small():
    with pytest.raises(ValueError, match="too small"):
        models.LeNet(image_size=12, padding=0)


def test_count_parameters_skips_frozen_ones():
    m = models.LeNet()
    for p in m.features.parameters():
        p.requires_grad_(False)
    assert models.count_parameters(m) == dense(400, 120) + dense(120, 84) + dense(84, 10)
    assert sum(p.numel() for p in m.parameters()) == 61_706
