"""helpers.models: parameter counts checked against hand arithmetic, output shapes."""

import pytest
import torch
from torch import nn

from helpers import data, models


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
    assert models.count_parameters(models.MLP(784, (256, 128))) == \
        dense(784, 256) + dense(256, 128) + dense(128, 10)
    widths, c, expected = (32, 64, 128), 3, 0
    for w in widths:
        expected += conv(c, w, 3) + 2 * w + conv(w, w, 3) + 2 * w
        c = w
    expected += dense(128, 10)
    assert models.count_parameters(models.SmallVGG(widths=widths)) == expected


@pytest.mark.parametrize("model, shape", [
    (models.SeedsMNISTNet(), (1, 28, 28)),
    (models.MLP(784), (1, 28, 28)),
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


# ---- the LeNet and AlexNet chapter: LeNet1998, AlexNet2012, ZFNet, AlexNetSmall, ResidualBlock

def grouped(cin, cout, k, groups):
    """A grouped conv: `groups` independent convs from cin/groups to cout/groups channels."""
    return groups * conv(cin // groups, cout // groups, k)


def feature_sizes(features, shape, device="meta"):
    """Side length after every conv and pool of a Sequential, from a real (meta) forward."""
    x, sizes = torch.zeros(1, *shape, device=device), []
    for layer in features:
        x = layer(x)
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            sizes.append(x.shape[-1])
    return sizes


def test_lenet_1998_has_lenets_counts_plus_the_trainable_subsampling():
    for size, padding in [(28, 2), (32, 0)]:
        m = models.LeNet1998(image_size=size, padding=padding)
        assert models.count_parameters(m) == 61_706 + 2 * (6 + 16) == 61_750
        assert feature_sizes(m.features, (1, size, size), "cpu") == [28, 14, 10, 5]
    with_bn = models.LeNet1998(batch_norm=True)
    assert models.count_parameters(with_bn) == 61_750 + 2 * (6 + 16 + 120 + 84)
    sig = models.LeNet1998(activation="sigmoid")
    assert models.count_parameters(sig) == 61_750


def test_lenet_1998_squashes_after_every_layer_up_to_the_output():
    kinds = [type(m) for m in models.LeNet1998().modules() if not isinstance(m, nn.Sequential)][1:]
    T, S = models.ScaledTanh, models.Subsampling
    assert kinds == [nn.Conv2d, T, S, T, nn.Conv2d, T, S, T,
                     nn.Flatten, nn.Linear, T, nn.Linear, T, nn.Linear]
    kinds = {type(m) for m in models.LeNet1998(activation="sigmoid").modules()}
    assert nn.Sigmoid in kinds and models.ScaledTanh not in kinds
    assert not kinds & {nn.ReLU, nn.MaxPool2d, nn.Identity, nn.BatchNorm2d, nn.BatchNorm1d}
    bn = [type(m) for m in models.LeNet1998(batch_norm=True).modules()
          if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    assert bn == [nn.BatchNorm2d, nn.BatchNorm2d, nn.BatchNorm1d, nn.BatchNorm1d]
    out = models.LeNet1998(batch_norm=True).eval()(torch.zeros(3, 1, 28, 28))
    assert out.shape == (3, 10)
    with pytest.raises(ValueError, match=r"activation must be.*got 'relu'"):
        models.LeNet1998(activation="relu")


def test_scaled_tanh_is_lecuns_function():
    f, x = models.ScaledTanh(), torch.linspace(-3, 3, 61)
    assert torch.allclose(f(x), 1.7159 * torch.tanh(2 * x / 3))
    assert torch.allclose(f(torch.tensor([1.0, -1.0])), torch.tensor([1.0, -1.0]), atol=1e-4)


def test_subsampling_sums_2x2_blocks_then_scales_and_shifts_each_map():
    layer = models.Subsampling(2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([1.0, 0.5]))
        layer.bias.copy_(torch.tensor([0.0, 1.0]))
    x = torch.arange(32.0).reshape(1, 2, 4, 4)
    sums = x.reshape(1, 2, 2, 2, 2, 2).sum(dim=(3, 5))       # (1, 2, 2, 2) block sums
    expected = sums * torch.tensor([1.0, 0.5]).view(1, 2, 1, 1) + torch.tensor([0.0, 1.0]).view(1, 2, 1, 1)
    assert torch.allclose(layer(x), expected)
    fresh = models.Subsampling(3)                               # starts as a 2x2 average
    y = torch.randn(2, 3, 6, 6)
    assert torch.allclose(fresh(y), nn.functional.avg_pool2d(y, 2), atol=1e-6)
    assert models.count_parameters(fresh) == 6


def test_lenet_1998_refuses_an_input_too_small():
    with pytest.raises(ValueError, match="too small"):
        models.LeNet1998(image_size=12, padding=0)


def test_alexnet_2012_matches_the_hand_count_with_two_towers():
    expected = (conv(3, 96, 11) + grouped(96, 256, 5, 2) + conv(256, 384, 3)
                + grouped(384, 384, 3, 2) + grouped(384, 256, 3, 2)
                + dense(256 * 6 * 6, 4096) + dense(4096, 4096) + dense(4096, 1000))
    assert expected == 60_965_224 and conv(3, 96, 11) == 34_944
    with torch.device("meta"):
        m = models.AlexNet2012()
    assert models.count_parameters(m) == expected
    assert [c.groups for c in m.modules() if isinstance(c, nn.Conv2d)] == [1, 2, 1, 2, 2]
    assert feature_sizes(m.features, (3, 227, 227)) == [55, 27, 27, 13, 13, 13, 13, 6]
    assert m(torch.zeros(2, 3, 227, 227, device="meta")).shape == (2, 1000)
    # the paper's dropout acts on the outputs of FC6 and FC7: Linear, ReLU, Dropout
    kinds = [type(x) for x in m.classifier]
    assert kinds == [nn.Flatten, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout,
                     nn.Linear]


def test_zfnet_reproduces_the_papers_map_sizes_and_counts():
    with torch.device("meta"):
        m, wide = models.ZFNet(), models.ZFNet(widths=(512, 1024, 512))
    assert feature_sizes(m.features, (3, 224, 224)) == [110, 55, 26, 13, 13, 13, 13, 6]
    dense_part = dense(4096, 4096) + dense(4096, 1000)
    assert models.count_parameters(m) == (
        conv(3, 96, 7) + conv(96, 256, 5) + conv(256, 384, 3) + conv(384, 384, 3)
        + conv(384, 256, 3) + dense(256 * 36, 4096) + dense_part)
    assert models.count_parameters(wide) == (
        conv(3, 96, 7) + conv(96, 256, 5) + conv(256, 512, 3) + conv(512, 1024, 3)
        + conv(1024, 512, 3) + dense(512 * 36, 4096) + dense_part)


def test_alexnet_small_counts_macs_and_receptive_field():
    from helpers import summary

    m = models.AlexNetSmall()
    expected = (conv(1, 12, 5) + conv(12, 32, 5) + conv(32, 48, 3) + conv(48, 48, 3)
                + conv(48, 32, 3) + dense(32 * 2 * 2, 512) + dense(512, 512) + dense(512, 10))
    assert models.count_parameters(m) == expected == 392_290
    assert feature_sizes(m.features, (1, 28, 28), "cpu") == [28, 13, 13, 6, 6, 6, 6, 2]
    s = summary.summarize(m, (1, 28, 28))
    macs = (28 * 28 * 12 * 25 + 13 * 13 * 32 * 12 * 25 + 6 * 6 * 48 * 32 * 9 + 6 * 6 * 48 * 48 * 9
            + 6 * 6 * 32 * 48 * 9 + 128 * 512 + 512 * 512 + 512 * 10)
    assert s.total_macs == macs == 3_932_224
    # 5 -> pool 7 (jump 2) -> 15 -> pool 19 (jump 4) -> 27 -> 35 -> 43 -> pool 51 (jump 8)
    assert s["features.12"].rf == (51, 51) and s["features.12"].jump == (8, 8)
    assert s["classifier.2"].rf == "all"


def test_alexnet_small_other_sizes_and_widths():
    assert models.AlexNetSmall(image_size=56).eval()(torch.zeros(2, 1, 56, 56)).shape == (2, 10)
    wider = models.AlexNetSmall(in_channels=3, num_classes=7, image_size=32, shrink=4)
    assert [c.out_channels for c in wider.modules() if isinstance(c, nn.Conv2d)] == [24, 64, 96, 96, 64]
    assert wider.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 7)
    models.AlexNetSmall(image_size=15)                    # 15 -> 7 -> 3 -> 1: the smallest that fits
    with pytest.raises(ValueError, match="too small"):
        models.AlexNetSmall(image_size=14)


def test_alexnet_small_dropout_acts_only_in_training():
    torch.manual_seed(0)
    m, x = models.AlexNetSmall(), torch.randn(4, 1, 28, 28)
    m.eval()
    assert torch.equal(m(x), m(x))
    m.train()
    assert not torch.equal(m(x), m(x))


def test_residual_block_shortcut_is_identity_only_when_the_shape_stays():
    assert isinstance(models.ResidualBlock(16, 16).shortcut, nn.Identity)
    for cin, cout, stride in [(6, 16, 2), (6, 16, 1), (16, 16, 2)]:
        block = models.ResidualBlock(cin, cout, stride=stride)
        proj = block.shortcut[0]
        assert proj.kernel_size == (1, 1) and proj.stride == (stride, stride)
        out = block(torch.randn(2, cin, 28, 28))
        assert out.shape == (2, cout, 28 // stride, 28 // stride)
    down = models.ResidualBlock(6, 16, stride=2)
    assert models.count_parameters(down) == (9 * 6 * 16 + 2 * 16 + 9 * 16 * 16 + 2 * 16
                                             + 6 * 16 + 2 * 16) == 3_360


@pytest.mark.parametrize("cin, cout, stride", [(8, 8, 1), (6, 16, 2)])
def test_residual_block_adds_the_shortcut(cin, cout, stride):
    torch.manual_seed(0)
    block = models.ResidualBlock(cin, cout, stride=stride).eval()
    nn.init.zeros_(block.residual[4].weight)          # F(x) = 0: only the shortcut is left
    x = torch.randn(2, cin, 12, 12, requires_grad=True)
    out = block(x)
    assert torch.equal(out, torch.relu(block.shortcut(x)))
    out.sum().backward()                              # the gradient still reaches the input
    assert x.grad.abs().sum() > 0


def test_plain_block_has_the_same_layers_and_no_shortcut():
    torch.manual_seed(0)
    res, plain = models.ResidualBlock(6, 16, stride=2), models.ResidualBlock(6, 16, 2, shortcut=False)
    assert plain.shortcut is None
    assert models.count_parameters(res) - models.count_parameters(plain) == 6 * 16 + 2 * 16
    plain.residual.load_state_dict(res.residual.state_dict())
    plain.eval(), res.eval()
    x = torch.randn(2, 6, 12, 12)
    assert torch.equal(plain(x), torch.relu(res.residual(x)))


def resnet_small_count(blocks, widths, cin, classes, shortcuts=True):
    """Hand count: stem conv+BN, per block two bias-free 3x3 convs + 2 BNs, projections, head."""
    total, c = 9 * cin * widths[0] + 2 * widths[0], widths[0]
    for w in widths:
        for b in range(blocks):
            c_in = c if b == 0 else w
            total += 9 * c_in * w + 2 * w + 9 * w * w + 2 * w
            if shortcuts and c_in != w:
                total += c_in * w + 2 * w                        # 1x1 projection + BN
        c = w
    return total + c * classes + classes


@pytest.mark.parametrize("blocks, widths, shortcuts", [(3, (16, 32, 64), True), (3, (16, 32, 64), False),
                                                       (2, (8, 16), True), (8, (16, 32), False)])
def test_resnet_small_counts_depth_and_shapes(blocks, widths, shortcuts):
    m = models.ResNetSmall(blocks, widths, shortcuts=shortcuts)
    assert models.count_parameters(m) == resnet_small_count(blocks, widths, 3, 10, shortcuts)
    assert m.depth == 2 * blocks * len(widths) + 2
    assert m.eval()(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_resnet_20_matches_he_et_al_and_its_summary():
    from helpers import summary

    m = models.ResNetSmall(blocks=3, widths=(16, 32, 64))
    assert m.depth == 20 and models.count_parameters(m) == 272_474     # the paper: 0.27M
    s = summary.summarize(m, (3, 32, 32))
    assert s.total_params == 272_474
    assert s["stages.2.0.residual.0"].output_shape == (64, 8, 8)
    assert s["head.2"].output_shape == (10,)
    gray = models.ResNetSmall(2, (16, 32), in_channels=1, stem_stride=2)
    assert summary.summarize(gray, (1, 28, 28))["stages.1.1.residual.3"].output_shape == (32, 7, 7)


# --------------------------------------------------------------------------- issue 13: bad arguments


@pytest.mark.parametrize("build, message", [
    (lambda: models.SeedsMNISTNet(image_size=-4), r"image_size must be.*got -4"),
    (lambda: models.SeedsMNISTNet(image_size=1), r"image_size must be"),
    (lambda: models.SeedsMNISTNet(in_channels=True), r"in_channels must be an int.*got True"),
    (lambda: models.MLP(hidden=(256, 0)), r"hidden must be"),
    (lambda: models.MLP(in_features=784.0), r"in_features must be.*got 784.0"),
    (lambda: models.LeNet(num_classes=0), r"num_classes must be.*got 0"),
    (lambda: models.LeNet(padding=-1), r"padding must be.*got -1"),
    (lambda: models.LeNet(batch_norm="no"), r"batch_norm must be.*got 'no'"),
    (lambda: models.LeNet(image_size=28.5), r"image_size must be"),
    (lambda: models.LeNet1998(batch_norm=1), r"batch_norm must be"),
    (lambda: models.LeNet1998(padding=-2), r"padding must be"),
    (lambda: models.cifar_cnn(num_classes=-1), r"num_classes must be"),
    (lambda: models.SmallVGG(widths=()), r"widths must be"),
    (lambda: models.SmallVGG(widths=(16, -32)), r"widths must be"),
    (lambda: models.AlexNet2012(dropout=1.5), r"dropout must be"),
    (lambda: models.AlexNet2012(num_classes=False), r"num_classes must be.*got False"),
    (lambda: models.ZFNet(widths=(0, 0, 0)), r"widths must be"),
    (lambda: models.ZFNet(widths=(384, 384)), r"widths must be"),
    (lambda: models.AlexNetSmall(shrink=0), r"shrink must be.*got 0"),
    (lambda: models.AlexNetSmall(dropout=True), r"dropout must be.*got True"),
    (lambda: models.ResidualBlock(4, 4, stride=0), r"stride must be.*got 0"),
    (lambda: models.ResidualBlock(0, 4), r"in_channels must be"),
])
def test_constructors_refuse_nonsense_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_constructors_still_accept_what_the_chapters_use():
    import numpy as np

    models.LeNet(batch_norm=True), models.LeNet1998(image_size=32, padding=0)
    models.ZFNet(widths=[512, 1024, 512]), models.MLP(hidden=())
    models.SmallVGG(widths=(16, 32, 64)), models.AlexNetSmall(image_size=56, dropout=0)
    assert models.LeNet(num_classes=np.int64(3))(torch.zeros(1, 1, 28, 28)).shape == (1, 3)


@pytest.mark.parametrize("in_channels, widths, size", [(3, (16, 32, 64, 128), 32),
                                                       (1, (16, 32, 64), 28)])
def test_the_small_vggs_the_chapters_train(in_channels, widths, size):
    """Chapter 7's four-block VGG for CIFAR-10 and chapter 6's three-block one for MNIST."""
    expected, c = 0, in_channels
    for w in widths:
        expected += conv(c, w, 3) + 2 * w + conv(w, w, 3) + 2 * w   # two convs, two batch norms
        c = w
    expected += dense(widths[-1], 10)
    model = models.SmallVGG(in_channels, 10, widths).to(memory_format=torch.channels_last).eval()
    assert models.count_parameters(model) == expected
    assert model(torch.zeros(2, in_channels, size, size)).shape == (2, 10)


# --------------------------------------------------------------------------- issue 12: blocks of modern CNNs


def conv_bn(cin, cout, k):
    """A bias-free k x k convolution followed by BatchNorm (scale and shift per channel)."""
    return k * k * cin * cout + 2 * cout


def summarize(model, shape):
    from helpers import summary
    return summary.summarize(model, shape)


@pytest.mark.parametrize("order, expected", [
    ("conv-relu", 9 * 16 * 32 + 32),                     # 4,640: the conv and its bias
    ("conv-bn-relu", 9 * 16 * 32 + 2 * 32),              # 4,672: no bias, BN on 32 channels
    ("conv-relu-bn", 9 * 16 * 32 + 32 + 2 * 32),         # 4,704: the bias is back
    ("bn-relu-conv", 2 * 16 + 9 * 16 * 32 + 32),         # 4,672: BN on the 16 input channels
])
def test_conv_bn_relu_orders_count_and_order_their_layers(order, expected):
    m = models.ConvBNReLU(16, 32, 3, order=order)
    assert models.count_parameters(m) == expected
    names = {nn.Conv2d: "conv", nn.BatchNorm2d: "bn", nn.ReLU: "relu"}
    assert "-".join(names[type(layer)] for layer in m) == order
    assert m(torch.zeros(2, 16, 9, 9)).shape == (2, 32, 9, 9)
    row = summarize(m, (16, 9, 9))[str(order.split("-").index("conv"))]
    assert (row.type, row.output_shape, row.rf, row.macs) == ("Conv2d", (32, 9, 9), (3, 3),
                                                              9 * 16 * 32 * 81)


def test_conv_bn_relu_stride_and_padding():
    m = models.ConvBNReLU(3, 8, 5, stride=2)             # padding None -> 2
    assert m[0].padding == (2, 2) and m(torch.zeros(1, 3, 32, 32)).shape == (1, 8, 16, 16)
    assert models.ConvBNReLU(3, 8, 3, padding=0)(torch.zeros(1, 3, 32, 32)).shape == (1, 8, 30, 30)


def test_vgg_block_counts_shapes_and_summary():
    plain = models.VGGBlock(3, 32, convs=2)
    assert models.count_parameters(plain) == conv(3, 32, 3) + conv(32, 32, 3) == 10_144
    bn = models.VGGBlock(3, 32, convs=2, batch_norm=True)
    assert models.count_parameters(bn) == conv_bn(3, 32, 3) + conv_bn(32, 32, 3) == 10_208
    assert models.count_parameters(models.VGGBlock(8, 8, convs=3)) == 3 * conv(8, 8, 3)
    assert bn(torch.zeros(2, 3, 32, 32)).shape == (2, 32, 16, 16)
    s = summarize(plain, (3, 32, 32))
    assert [r.type for r in s.rows] == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"]
    last = s["2"]
    assert (last.output_shape, last.params, last.rf, last.jump) == ((32, 16, 16), 0, (6, 6), (2, 2))
    assert s["1.0"].macs == 9 * 32 * 32 * 32 * 32


def test_vgg_small_is_the_small_vgg_the_earlier_chapters_train():
    s = summarize(models.SmallVGG(), (3, 32, 32))
    expected, c = 0, 3
    for w in (32, 64, 128):
        expected += conv(c, w, 3) + 2 * w + conv(w, w, 3) + 2 * w
        c = w
    assert s.total_params == expected + dense(128, 10) == 289_194
    # doubling the channels while halving the size keeps a conv's cost (w -> w at s x s)
    assert s["features.3"].macs == s["features.10"].macs == s["features.17"].macs == \
        9 * 32 * 32 * 32 * 32
    assert s.total_macs == 38_634_752
    assert (s["features.20"].output_shape, s["features.20"].rf) == ((128, 4, 4), (36, 36))


def test_nin_block_counts_shapes_and_summary():
    m = models.NiNBlock(3, 64, 5, padding=2)
    assert models.count_parameters(m) == conv(3, 64, 5) + 2 * conv(64, 64, 1) == 13_184
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 64, 32, 32)
    assert models.NiNBlock(3, 96, 11, stride=4)(torch.zeros(1, 3, 224, 224)).shape == (1, 96, 54, 54)
    s = summarize(m, (3, 32, 32))
    assert (s["2.0"].output_shape, s["2.0"].macs, s["2.0"].rf) == ((64, 32, 32), 64 * 64 * 1024, (5, 5))
    bn = models.NiNBlock(3, 64, 5, padding=2, batch_norm=True)
    assert models.count_parameters(bn) == conv_bn(3, 64, 5) + 2 * conv_bn(64, 64, 1)


def test_nin_small_has_no_dense_layer():
    m = models.NiNSmall()
    expected = (conv_bn(3, 64, 5) + 2 * conv_bn(64, 64, 1)
                + conv_bn(64, 128, 3) + 2 * conv_bn(128, 128, 1)
                + conv_bn(128, 128, 3) + 2 * conv_bn(128, 128, 1)
                + conv(128, 10, 1))
    assert models.count_parameters(m) == expected == 302_922
    assert not any(isinstance(x, nn.Linear) for x in m.modules()) and m.depth == 10
    s = summarize(m, (3, 32, 32))
    macs = (75 * 64 + 2 * 64 * 64) * 32 * 32 + (9 * 64 * 128 + 2 * 128 * 128) * 16 * 16 \
        + (9 * 128 * 128 + 2 * 128 * 128) * 8 * 8 + 128 * 10 * 8 * 8
    assert s.total_macs == macs == 52_183_040
    head = s["head.0"]
    assert (head.output_shape, head.params, head.rf, head.jump) == ((10, 8, 8), 1_290, (20, 20), (4, 4))
    assert s["head.1"].rf == "all" and m.eval()(torch.zeros(3, 3, 32, 32)).shape == (3, 10)
    assert models.count_parameters(models.NiNSmall(batch_norm=False)) == (
        conv(3, 64, 5) + 2 * conv(64, 64, 1) + conv(64, 128, 3) + 2 * conv(128, 128, 1)
        + conv(128, 128, 3) + 2 * conv(128, 128, 1) + conv(128, 10, 1))


def inception_count(cin, c1, c2, c3, c4, bn=False):
    one = conv_bn if bn else conv
    return (one(cin, c1, 1) + one(cin, c2[0], 1) + one(c2[0], c2[1], 3)
            + one(cin, c3[0], 1) + one(c3[0], c3[1], 5) + one(cin, c4, 1))


def test_inception_block_is_googlenets_3a():
    m = models.Inception(192, 64, (96, 128), (16, 32), 32)           # GoogLeNet's inception (3a)
    assert models.count_parameters(m) == inception_count(192, 64, (96, 128), (16, 32), 32) == 163_696
    assert m.out_channels == 64 + 128 + 32 + 32 == 256
    assert m(torch.zeros(2, 192, 28, 28)).shape == (2, 256, 28, 28)
    s = summarize(m, (192, 28, 28))
    assert s.output_shape == (256, 28, 28)
    assert (s["b3.1.0"].output_shape, s["b3.1.0"].rf, s["b3.1.0"].macs) == \
        ((32, 28, 28), (5, 5), 25 * 16 * 32 * 28 * 28)
    assert (s["b4.0"].rf, s["b4.1.0"].rf, s["b4.1.0"].params) == ((3, 3), (3, 3), 192 * 32 + 32)
    bn = models.Inception(64, 32, (48, 64), (8, 16), 16, batch_norm=True)
    assert models.count_parameters(bn) == inception_count(64, 32, (48, 64), (8, 16), 16, bn=True)


def test_inception_concatenates_the_branches_in_order():
    torch.manual_seed(0)
    m, x = models.Inception(8, 2, (4, 3), (2, 5), 1).eval(), torch.randn(2, 8, 6, 6)
    out = m(x)
    assert torch.equal(out[:, :2], m.b1(x)) and torch.equal(out[:, 2:5], m.b2(x))
    assert torch.equal(out[:, 5:10], m.b3(x)) and torch.equal(out[:, 10:], m.b4(x))


def test_googlenet_small_counts_and_summary():
    m = models.GoogLeNetSmall()
    specs = [(64, 32, (48, 64), (8, 16), 16), (128, 64, (64, 96), (16, 48), 32),
             (240, 96, (48, 104), (8, 24), 32), (256, 80, (56, 112), (12, 32), 32)]
    expected = conv_bn(3, 64, 3) + sum(inception_count(*s, bn=True) for s in specs) + dense(256, 10)
    assert models.count_parameters(m) == expected == 347_250
    assert m.depth == 10
    s = summarize(m, (3, 32, 32))
    assert s.total_macs == 49_396_224
    first = s["blocks.0.b3.1.0"]                                     # the first 5x5, before any merge
    assert (first.output_shape, first.rf, first.jump) == ((16, 16, 16), (12, 12), (2, 2))
    assert s["blocks.1.b1.0"].rf is None                             # reads a torch.cat
    assert s["blocks.4.b2.1.0"].output_shape == (112, 8, 8)
    assert s["head.2"].output_shape == (10,)


def bottleneck_count(cin, mid, cout, projection):
    return (conv_bn(cin, mid, 1) + conv_bn(mid, mid, 3) + conv_bn(mid, cout, 1)
            + (conv_bn(cin, cout, 1) if projection else 0))


@pytest.mark.parametrize("cin, mid, cout, stride, projection", [
    (256, 64, 256, 1, False), (64, 64, 256, 1, True), (256, 128, 512, 2, True), (16, 4, 16, 2, True)])
def test_bottleneck_counts_shapes_and_shortcut(cin, mid, cout, stride, projection):
    m = models.Bottleneck(cin, mid, cout, stride=stride)
    assert models.count_parameters(m) == bottleneck_count(cin, mid, cout, projection)
    assert isinstance(m.shortcut, nn.Identity) != projection
    assert m(torch.zeros(2, cin, 16, 16)).shape == (2, cout, 16 // stride, 16 // stride)


def test_bottleneck_costs_what_a_basic_block_on_a_quarter_of_the_channels_costs():
    bottleneck = models.Bottleneck(256, 64, 256)
    basic = models.ResidualBlock(64, 64)
    assert models.count_parameters(bottleneck) == 256 * 64 + 9 * 64 * 64 + 64 * 256 + 2 * (64 + 64 + 256) == 70_400
    assert models.count_parameters(basic) == 2 * (9 * 64 * 64 + 2 * 64) == 73_984
    s = summarize(models.Bottleneck(256, 128, 512, stride=2), (256, 28, 28))
    assert (s["residual.3"].output_shape, s["residual.3"].rf, s["residual.3"].jump) == \
        ((128, 14, 14), (3, 3), (2, 2))
    assert (s["shortcut.0"].rf, s["shortcut.0"].jump, s["shortcut.0"].params) == ((1, 1), (2, 2), 256 * 512)
    assert s["relu"].rf is None and s.output_shape == (512, 14, 14)   # after the sum


def test_bottleneck_adds_the_shortcut_and_plain_has_none():
    torch.manual_seed(0)
    m = models.Bottleneck(8, 4, 16, stride=2).eval()
    nn.init.zeros_(m.residual[7].weight)                 # F(x) = 0: only the shortcut is left
    x = torch.randn(2, 8, 12, 12)
    assert torch.equal(m(x), torch.relu(m.shortcut(x)))
    plain = models.Bottleneck(8, 4, 16, stride=2, shortcut=False)
    assert plain.shortcut is None
    assert models.count_parameters(m) - models.count_parameters(plain) == conv_bn(8, 16, 1)


def dense_block_count(cin, k, layers):
    """Per layer: BN on its input (2 per channel), a 3x3 conv to k channels with bias."""
    return sum(2 * (cin + i * k) + conv(cin + i * k, k, 3) for i in range(layers))


def test_dense_block_grows_by_the_growth_rate():
    m = models.DenseBlock(24, 12, 6)
    assert m.out_channels == 24 + 6 * 12 == 96
    assert models.count_parameters(m) == dense_block_count(24, 12, 6) == 35_712
    assert m(torch.zeros(2, 24, 8, 8)).shape == (2, 96, 8, 8)
    s = summarize(m, (24, 32, 32))
    third = s["layers.2.2"]                                          # reads 24 + 2 * 12 channels
    assert (third.output_shape, third.params, third.macs) == ((12, 32, 32), 9 * 48 * 12 + 12,
                                                              9 * 48 * 12 * 32 * 32)
    assert s["layers.0.2"].rf == (3, 3) and s["layers.1.0"].rf is None  # after the first cat


def test_dense_block_keeps_its_input_as_the_first_channels():
    torch.manual_seed(0)
    m, x = models.DenseBlock(3, 2, 2).eval(), torch.randn(1, 3, 5, 5)
    out = m(x)
    assert torch.equal(out[:, :3], x) and torch.equal(out[:, 3:5], m.layers[0](x))


def test_transition_counts_and_halves():
    m = models.Transition(96, 48)
    assert models.count_parameters(m) == 2 * 96 + conv(96, 48, 1) == 4_848
    assert m(torch.zeros(2, 96, 32, 32)).shape == (2, 48, 16, 16)
    s = summarize(m, (96, 32, 32))
    assert (s["1"].output_shape, s["1"].rf, s["1"].jump) == ((48, 16, 16), (2, 2), (2, 2))


def test_densenet_small_counts_and_summary():
    m = models.DenseNetSmall()
    expected = (9 * 3 * 24 + dense_block_count(24, 12, 6) + 2 * 96 + conv(96, 48, 1)
                + dense_block_count(48, 12, 6) + 2 * 120 + conv(120, 60, 1)
                + dense_block_count(60, 12, 6) + 2 * 132 + dense(132, 10))
    assert models.count_parameters(m) == expected == 161_326
    assert m.depth == 22
    s = summarize(m, (3, 32, 32))
    assert s.total_macs == 59_730_216
    assert s["stages.2.layers.5.2"].output_shape == (12, 16, 16)
    assert s["stages.3.0.2"].output_shape == (60, 16, 16) and s["head.0"].output_shape == (132, 8, 8)
    assert m.eval()(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    no_compression = models.DenseNetSmall(growth_rate=4, layers=(2, 2), compression=1.0)
    assert no_compression.stages[1][0][2].out_channels == 8 + 2 * 4


def test_resnet_20_macs_by_hand():
    """Stem, then per stage: 3 blocks of two 3x3 convs (the first strided), plus projections."""
    macs = 9 * 3 * 16 * 32 * 32 + 6 * 9 * 16 * 16 * 32 * 32              # stem, stage 1
    macs += (9 * 16 * 32 + 5 * 9 * 32 * 32 + 16 * 32) * 16 * 16          # stage 2 at 16x16
    macs += (9 * 32 * 64 + 5 * 9 * 64 * 64 + 32 * 64) * 8 * 8            # stage 3 at 8x8
    macs += 64 * 10                                                      # the dense layer
    assert summarize(models.ResNetSmall(), (3, 32, 32)).total_macs == macs == 40_813_184


def test_small_cifar_networks_stay_small():
    for build in (models.SmallVGG, models.NiNSmall, models.GoogLeNetSmall, models.ResNetSmall,
                  models.DenseNetSmall):
        s = summarize(build(), (3, 32, 32))
        assert 100_000 < s.total_params < 1_000_000 and s.total_macs < 100_000_000, build


@pytest.mark.parametrize("build, message", [
    (lambda: models.ConvBNReLU(3, 8, order="bn-conv-relu"), r"order must be"),
    (lambda: models.ConvBNReLU(3, 8, kernel_size=0), r"kernel_size must be"),
    (lambda: models.ConvBNReLU(3, 8, padding=-1), r"padding must be"),
    (lambda: models.VGGBlock(3, 8, convs=0), r"convs must be.*got 0"),
    (lambda: models.VGGBlock(3, 8, batch_norm=1), r"batch_norm must be"),
    (lambda: models.NiNBlock(3, 8, kernel_size=3, stride=0), r"stride must be"),
    (lambda: models.NiNSmall(widths=(64, 128)), r"widths must be"),
    (lambda: models.Inception(64, 32, 48, (8, 16), 16), r"c2 must be"),
    (lambda: models.Inception(64, 32, (48, 64), (0, 16), 16), r"c3 must be"),
    (lambda: models.Inception(64, 0, (48, 64), (8, 16), 16), r"c1 must be"),
    (lambda: models.GoogLeNetSmall(num_classes=0), r"num_classes must be"),
    (lambda: models.Bottleneck(64, 0, 256), r"mid_channels must be.*got 0"),
    (lambda: models.Bottleneck(64, 16, 64, shortcut="yes"), r"shortcut must be"),
    (lambda: models.DenseBlock(24, 12, 0), r"layers must be.*got 0"),
    (lambda: models.DenseBlock(24, 1.5, 2), r"growth_rate must be"),
    (lambda: models.Transition(96, 0), r"out_channels must be"),
    (lambda: models.DenseNetSmall(layers=()), r"layers must be"),
    (lambda: models.DenseNetSmall(compression=0), r"DenseNetSmall: compression must be above 0"),
    (lambda: models.DenseNetSmall(compression=2), r"compression must be"),
])
def test_modern_blocks_refuse_nonsense_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_frozen_features_neither_train_nor_update_their_batch_norm_statistics():
    torch.manual_seed(0)
    features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten())
    net = nn.Sequential(models.Frozen(features), nn.Linear(4, 2))
    before = {k: v.clone() for k, v in features.state_dict().items()}
    net.train()
    assert net.training and net[1].training and not features.training
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(net(torch.randn(8, 3, 6, 6) * 3 + 1),
                                    torch.tensor([0, 1] * 4)).backward()
        opt.step()
    after = features.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)   # weights and running stats
    assert all(p.grad is None for p in features.parameters())
    assert net[1].weight.grad is not None
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == 4 * 2 + 2
    with pytest.raises(TypeError, match="wraps an nn.Module"):
        models.Frozen(lambda x: x)


def test_cifar_networks_are_the_five_small_networks_with_their_parameter_counts():
    nets = {name: build() for name, build in models.cifar_networks().items()}
    counts = {name: models.count_parameters(net) for name, net in nets.items()}
    assert counts == {"VGG": 289_194, "NiN": 302_922, "GoogLeNet": 347_250,
                      "ResNet-20": 272_474, "DenseNet": 161_326}
    assert nets["ResNet-20"].depth == 20
    for net in nets.values():
        assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_alexnet_lrn_is_the_papers_formula():
    """b = a / (k + alpha * sum over the 5 nearest channels of a^2) ** beta, alpha 1e-4, k 2."""
    a = torch.randn(2, 12, 3, 3, dtype=torch.float64) * 30
    squares = torch.nn.functional.pad(a ** 2, (0, 0, 0, 0, 2, 2))   # zero channels at both ends
    window = sum(squares[:, i:i + 12] for i in range(5))
    paper = a / (2 + 1e-4 * window) ** 0.75
    torch.testing.assert_close(models.classic._lrn()(a), paper)


def test_zfnet_pools_before_it_normalises():
    kinds = [type(m).__name__ for m in models.ZFNet().features]
    assert kinds[:8] == ["Conv2d", "ReLU", "MaxPool2d", "LocalResponseNorm",
                         "Conv2d", "ReLU", "MaxPool2d", "LocalResponseNorm"]


def test_speednet_has_airbench94s_shape_and_work():
    from helpers import summary
    net = models.SpeedNet()
    s = summary.summarize(net, (3, 32, 32))
    assert s.total_macs == 118_147_360 and s.total_params == 1_972_792
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert [tuple(m.weight.shape) for m in net.groups.modules() if isinstance(m, nn.Conv2d)] == [
        (64, 24, 3, 3), (64, 64, 3, 3), (256, 64, 3, 3), (256, 256, 3, 3), (256, 256, 3, 3),
        (256, 256, 3, 3)]


def test_speednet_whitening_decorrelates_patches_and_freezes_its_weights():
    torch.manual_seed(0)
    images = torch.randn(64, 3, 16, 16)
    images[:, 1] = 0.9 * images[:, 0] + 0.1 * images[:, 1]          # correlated channels
    images[..., 1:] = 0.5 * images[..., 1:] + 0.5 * images[..., :-1]  # and neighbours
    net = models.SpeedNet().whiten_from(images, eps=0.0)
    with torch.no_grad():
        out = (net.whiten(images) - net.whiten.bias[:, None, None])[:, :12]
    cov = torch.cov(out.permute(0, 2, 3, 1).reshape(-1, 12).T.double())
    assert torch.allclose(cov, torch.eye(12, dtype=torch.float64), atol=1e-3)
    assert not net.whiten.weight.requires_grad and net.whiten.bias.requires_grad
    assert models.count_parameters(net) == 1_972_792 - 24 * 12
    with pytest.raises(ValueError, match="N, 3, H, W"):
        net.whiten_from(torch.zeros(4, 1, 8, 8))


def test_speednet_identity_init_passes_its_input_through():
    net = models.SpeedNet(identity_init=True)
    conv = net.groups[0][0]
    x = torch.randn(1, 24, 9, 9)
    with torch.no_grad():
        assert torch.equal(conv(x)[:, :24], x)                   # first 24 of 64 channels
        assert net.groups[1][0](torch.randn(1, 64, 5, 5)).shape == (1, 256, 5, 5)
    assert conv.weight[24:].abs().sum() > 0                      # the rest start at random


@pytest.mark.parametrize("kwargs", [dict(widths=(64, 256)), dict(widths=(64, 0, 256)),
                                    dict(num_classes=True), dict(bn_momentum=1.5),
                                    dict(identity_init="yes")])
def test_speednet_refuses_bad_settings(kwargs):
    with pytest.raises(ValueError, match=f"{next(iter(kwargs))} must be"):
        models.SpeedNet(**kwargs)


def test_fast_network_builds_the_same_whitened_channels_last_speednet_every_time():
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    split = data.Split(images, torch.zeros(64, dtype=torch.long), mean=(0.5,) * 3, std=(0.25,) * 3)
    build = models.fast_network(split, whiten_images=32)
    torch.manual_seed(0)
    a = build()
    torch.manual_seed(0)
    b = build()
    assert isinstance(a, models.SpeedNet) and not a.whiten.weight.requires_grad
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert a.groups[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    expected = models.SpeedNet().whiten_from(split.normalize(images[:32])).whiten.weight
    torch.testing.assert_close(a.whiten.weight, expected)
    with pytest.raises(ValueError, match="whiten_images must be"):
        models.fast_network(split, whiten_images=0)


def test_fast_network_whitens_once_and_each_network_owns_its_weights(monkeypatch):
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    split = data.Split(images, torch.zeros(64, dtype=torch.long), mean=(0.5,) * 3, std=(0.25,) * 3)
    calls = []
    whiten_from = models.SpeedNet.whiten_from
    monkeypatch.setattr(models.SpeedNet, "whiten_from",
                        lambda self, *a, **k: calls.append(1) or whiten_from(self, *a, **k))
    build = models.fast_network(split, whiten_images=32)
    first = build()
    with torch.no_grad():
        first.whiten.weight.mul_(2)                        # changing one network...
    second, third = build(), build()
    assert len(calls) == 1                                 # ...after one whitening for three builds
    torch.testing.assert_close(second.whiten.weight, first.whiten.weight / 2, rtol=0, atol=0)
    assert torch.equal(second.whiten.weight, third.whiten.weight)
    assert not second.whiten.weight.requires_grad and second.whiten.bias.requires_grad
