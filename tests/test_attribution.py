"""helpers.attribution (saliency, occlusion), helpers.plot.overlay."""

from __future__ import annotations

import matplotlib
import pytest
import torch
from torch import nn

from helpers import attribution, plot

matplotlib.use("Agg")


def linear_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(2 * 6 * 6, 3)).eval()


def test_saliency_of_a_linear_model_is_its_weights():
    model = linear_model()
    x = torch.randn(2, 6, 6)
    got = attribution.saliency(model, x, target=1)
    want = model[1].weight[1].detach().view(2, 6, 6).abs().amax(dim=0)
    assert got.shape == (6, 6) and torch.allclose(got, want)


def test_occlusion_is_zero_away_from_the_only_pixel_that_matters():
    model = linear_model()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[0, 2 * 6 + 3] = 5.0               # class 0 reads channel 0, pixel (2, 3)
    x = torch.ones(2, 6, 6)
    heat = attribution.occlusion(model, x, target=0, size=2, stride=1)
    assert heat.shape == (6, 6)
    assert heat[2, 3] > 0.1
    # only the 2x2 patches that cover (2, 3) drop the probability
    covering = torch.zeros(6, 6, dtype=torch.bool)
    covering[1:4, 2:5] = True
    assert (heat[~covering] == 0).all() and (heat[covering] > 0).all()


def test_bad_input_is_refused():
    model = linear_model()
    with pytest.raises(ValueError, match=r"one input \(C, H, W\)"):
        attribution.saliency(model, torch.zeros(1, 2, 6, 6), 0)
    with pytest.raises(ValueError, match="eval mode"):
        attribution.occlusion(model.train(), torch.zeros(2, 6, 6), 0)
    for kwargs, words in (({"size": 7}, "patch size.*6"), ({"size": 2.0}, "patch size.*int"),
                          ({"stride": 1.5}, "stride.*int"), ({"batch_size": 0}, "batch_size"),
                          ({"batch_size": -1}, "batch_size")):
        with pytest.raises(ValueError, match=words):
            attribution.occlusion(model.eval(), torch.zeros(2, 6, 6), 0, **kwargs)


def test_targets_out_of_range_or_not_ints_are_refused_by_every_map():
    model, x = linear_model().eval(), torch.zeros(2, 6, 6)
    for target, words in ((7, "from 0 to 2"), (-1, ">= 0"), (True, "int"), (1.0, "int")):
        with pytest.raises(ValueError, match=words):
            attribution.saliency(model, x, target)
        with pytest.raises(ValueError, match=words):
            attribution.occlusion(model, x, target)


def test_a_model_without_parameters_is_mapped_on_the_cpu():
    model = nn.Sequential(nn.Flatten(), nn.Unflatten(1, (2, 36)), nn.AdaptiveAvgPool1d(1),
                          nn.Flatten()).eval()          # (1, 2, 6, 6) -> (1, 2): two "classes"
    x = torch.rand(2, 6, 6)
    assert attribution.saliency(model, x, 1).shape == (6, 6)
    assert attribution.occlusion(model, x, 0).shape == (6, 6)


def test_overlay_draws_two_layers_and_checks_sizes():
    ax = plot.overlay(torch.rand(3, 8, 8), torch.rand(8, 8), title="t")
    assert len(ax.images) == 2 and ax.get_title() == "t"
    assert plot.overlay(torch.rand(8, 8), torch.full((8, 8), 0.5), vmax=2.0).images[1].get_clim() == (0, 2.0)
    with pytest.raises(ValueError, match="image's size"):
        plot.overlay(torch.rand(8, 8), torch.rand(4, 4))


def test_occlusion_covers_every_pixel_even_when_the_stride_skips_the_edge():
    model = linear_model()
    drops, spots = attribution.occlusion_patches(model.eval(), torch.ones(2, 6, 6), 0, size=4, stride=3)
    assert spots == [(0, 0), (0, 2), (2, 0), (2, 2)]   # start 3 would run off: the edge start 2 instead
    assert drops.shape == (4,)


def test_log_odds_see_a_drop_that_a_saturated_probability_hides():
    model = linear_model()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[0] = 3.0                          # class 0: every pixel is evidence
    x = torch.ones(2, 6, 6)
    prob = attribution.occlusion_patches(model.eval(), x, 0, size=2, stride=2)[0]
    odds = attribution.occlusion_patches(model, x, 0, size=2, stride=2, measure="log_odds")[0]
    assert prob.max() < 1e-6                              # p stays 1.0 to float precision
    assert torch.allclose(odds, torch.full_like(odds, 2 * 2 * 2 * 3.0))   # 8 weights of 3 covered
    with pytest.raises(ValueError, match="measure"):
        attribution.occlusion(model, x, 0, measure="logit")
    with pytest.raises(ValueError, match="target.*from 0 to 2"):
        attribution.occlusion(model, x, 7)
    with pytest.raises(ValueError, match="target.*int"):
        attribution.occlusion(model, x, True)


# --------------------------------------------------------------------------- class activation maps


def gap_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3)).eval()


def test_grad_cam_equals_a_plain_torch_computation():
    net, x = gap_net(), torch.randn(3, 6, 6)
    for layer_index, target in ((1, 2), (3, 0)):
        maps = net[:layer_index + 1](x[None]).detach().requires_grad_(True)   # (1, K, 6, 6)
        score = net[layer_index + 1:](maps)[0, target]
        (grad,) = torch.autograd.grad(score, maps)
        expected = (grad[0].mean(dim=(1, 2))[:, None, None] * maps[0]).sum(0).clamp(min=0)
        got = attribution.grad_cam(net, x, target, net[layer_index])
        assert got.shape == (6, 6) and torch.allclose(got, expected.detach(), atol=1e-6)


def test_cam_splits_the_logit_and_is_grad_cam_at_the_last_layer():
    net, x = gap_net(), torch.randn(3, 6, 6)
    logits = net(x[None])[0]
    for target in range(3):
        m = attribution.cam(net, x, target, net[3], net[6])
        assert torch.isclose(m.mean() + net[6].bias[target], logits[target], atol=1e-5)
        g = attribution.grad_cam(net, x, target, net[3])
        assert torch.allclose(g, m.clamp(min=0) / 36, atol=1e-6)


def test_class_maps_refuse_what_they_cannot_use():
    net, x = gap_net(), torch.randn(3, 6, 6)
    with pytest.raises(ValueError, match="class index"):
        attribution.grad_cam(net, x, 3, net[3])
    with pytest.raises(ValueError, match="class index"):
        attribution.cam(net, x, True, net[3], net[6])
    with pytest.raises(ValueError, match="model's own modules"):
        attribution.grad_cam(net, x, 0, nn.ReLU())
    with pytest.raises(ValueError, match=r"\(1, K, h, w\)"):
        attribution.grad_cam(net, x, 0, net[5])                      # Flatten: no maps
    with pytest.raises(ValueError, match="4 maps.*5"):
        attribution.cam(net, x, 0, net[1], net[6])                   # 4 maps, not 5
    with pytest.raises(ValueError, match="nn.Linear"):
        attribution.cam(net, x, 0, net[3], net[4])
    with pytest.raises(ValueError, match="eval mode"):
        attribution.grad_cam(net.train(), x, 0, net[3])


def test_rank_correlation_and_upsample():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert attribution.rank_correlation(a, a * 10 + 1) == pytest.approx(1.0)
    assert attribution.rank_correlation(a, -a) == pytest.approx(-1.0)
    tied = torch.tensor([[0.0, 0.0], [1.0, 2.0]])                 # ranks 0.5, 0.5, 2, 3
    assert attribution.rank_correlation(tied, a) == pytest.approx(0.9486833, abs=1e-6)
    with pytest.raises(ValueError, match="one value everywhere"):
        attribution.rank_correlation(torch.zeros(2, 2), a)
    with pytest.raises(ValueError, match="one shape"):
        attribution.rank_correlation(a, a.flatten())
    big = attribution.upsample(a, 4)
    assert big.shape == (4, 4) and big.min() >= 1 and big.max() <= 4
    with pytest.raises(ValueError, match=r"\(h, w\)"):
        attribution.upsample(a[None], 4)
