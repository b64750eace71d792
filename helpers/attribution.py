"""Which pixels mattered? Saliency (a gradient), occlusion (an experiment), class activation maps.

Both take a trained model in eval mode and one normalised input (C, H, W),
and return an (H, W) map, larger where the class score depended more on the
pixel. They answer different questions:

- `saliency`: |d score / d pixel|, the largest over the channels. How much the
  score would change for a tiny change of each pixel, at this very input. Cheap
  (one backward pass), but local: it says nothing about larger changes.
- `occlusion`: cover a square patch with a fill value, measure how much the
  class's evidence drops, slide the patch over the image. A real experiment,
  but as coarse as the patch, and covering with gray is itself a change the
  network never saw in training. The drop is measured in probability or in
  log-odds, log(p / (1 - p)): a probability near 1 hardly moves when evidence
  is lost (0.9999 -> 0.999 is a drop of 0.0009), its log-odds do (9.2 -> 6.9).
- `cam` and `grad_cam`: the class score split over the positions of a layer's
  maps (coarse: 8 x 8 for chapter 12's ResNet-20), from one forward pass.
  `upsample` stretches such a map to the photo; `rank_correlation` compares
  two maps (the sanity check of chapter 9).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers import checks, train


def _check(x: torch.Tensor, target: int, model: nn.Module) -> int:
    """`target` as an int >= 0, once x is one input (C, H, W) and the model is in eval mode."""
    if x.dim() != 3:
        raise ValueError(f"need one input (C, H, W), got shape {tuple(x.shape)}")
    if model.training:
        raise ValueError("put the model in eval mode first (model.eval()): in train mode "
                         "BatchNorm and Dropout change the answer")
    return checks.as_int(target, "target (a class index)", low=0)


def _in_range(target: int, logits: torch.Tensor) -> None:
    if target >= logits.shape[1]:
        raise ValueError(f"target must be a class index from 0 to {logits.shape[1] - 1}, got {target}")


def saliency(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    """Gradient of the target class's score (logit) w.r.t. the input: (C, H, W) -> (H, W), >= 0.

    The absolute gradient, maximised over channels (Simonyan et al., 2014).
    """
    target = _check(x, target, model)
    x = x.detach().to(train.model_device(model))[None].requires_grad_(True)  # (1, C, H, W)
    logits = model(x)
    _in_range(target, logits)
    score = logits[0, target]
    (grad,) = torch.autograd.grad(score, x)
    return grad[0].abs().amax(dim=0).cpu()                        # (H, W)


MEASURES = ("probability", "log_odds")


def _evidence(logits: torch.Tensor, target: int, measure: str) -> torch.Tensor:
    """(B, classes) logits -> (B,) probability or log-odds log(p / (1 - p)) of `target`."""
    if measure == "probability":
        return logits.softmax(dim=1)[:, target]
    others = torch.cat([logits[:, :target], logits[:, target + 1:]], dim=1)
    return logits[:, target] - others.logsumexp(dim=1)     # log p - log(1 - p), never saturates


def occlusion_patches(model: nn.Module, x: torch.Tensor, target: int, size: int = 4,
                      stride: int = 2, fill: float = 0.0, measure: str = "probability",
                      batch_size: int = 256) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """The drop in the target's evidence for each covered patch: (drops (P,), [(row, col)]).

    Patches of size x size (value `fill` in every channel; 0 is the mean pixel
    of normalised data) start every `stride` pixels; where that leaves the last
    rows or columns uncovered, one more patch starts at the edge, so every
    pixel is covered. `measure` is "probability" or "log_odds". Positive:
    covering the patch lowered the evidence for `target`.
    """
    target = _check(x, target, model)
    C, H, W = x.shape
    size = checks.as_int(size, "patch size", low=1, high=min(H, W))
    stride = checks.as_int(stride, "stride", low=1)
    batch_size = checks.as_int(batch_size, "batch_size", low=1)
    checks.one_of(measure, "measure", MEASURES)
    starts_r = sorted(set(range(0, H - size + 1, stride)) | {H - size})
    starts_c = sorted(set(range(0, W - size + 1, stride)) | {W - size})
    spots = [(r, c) for r in starts_r for c in starts_c]
    x = x.detach().to(train.model_device(model))
    with torch.no_grad():
        logits = model(x[None])
        _in_range(target, logits)
        base = _evidence(logits, target, measure)[0]
        drops = []
        for i in range(0, len(spots), batch_size):
            batch = x.repeat(len(spots[i:i + batch_size]), 1, 1, 1)   # (B, C, H, W)
            for b, (r, c) in enumerate(spots[i:i + batch_size]):
                batch[b, :, r:r + size, c:c + size] = fill
            drops.append(base - _evidence(model(batch), target, measure))
    return torch.cat(drops).cpu().double(), spots


def occlusion(model: nn.Module, x: torch.Tensor, target: int, size: int = 4, stride: int = 2,
              fill: float = 0.0, measure: str = "probability", batch_size: int = 256) -> torch.Tensor:
    """Drop in the target class's evidence when a patch covers each pixel: (H, W).

    Each pixel gets the mean drop over the patches that covered it (see
    `occlusion_patches`; every pixel is covered by at least one). The largest
    value of this map is a mean, smaller than the largest single patch's drop,
    which `occlusion_patches(...)[0].max()` gives.
    """
    drops, spots = occlusion_patches(model, x, target, size, stride, fill, measure, batch_size)
    H, W = x.shape[1:]
    total = torch.zeros(H, W, dtype=torch.float64)
    count = torch.zeros(H, W, dtype=torch.float64)
    for d, (r, c) in zip(drops, spots):
        total[r:r + size, c:c + size] += d
        count[r:r + size, c:c + size] += 1
    assert (count > 0).all()   # the edge patches cover every pixel
    return (total / count).float()


# --------------------------------------------------------------------------- class activation maps


def _layer_output(model: nn.Module, layer: nn.Module, x: torch.Tensor, target: int):
    """Run the model once on x (C, H, W); return (the layer's output (1, K, h, w), the target's logit)."""
    target = _check(x, target, model)
    if not isinstance(layer, nn.Module) or not any(m is layer for m in model.modules()):
        raise ValueError("layer must be one of the model's own modules (e.g. model.stages[2]), "
                         f"got {type(layer).__name__}")
    seen = []
    hook = layer.register_forward_hook(lambda module, inputs, output: seen.append(output))
    try:
        logits = model(x.detach().to(train.model_device(model))[None])           # (1, classes)
    finally:
        hook.remove()
    if len(seen) != 1 or not isinstance(seen[0], torch.Tensor) or seen[0].dim() != 4:
        raise ValueError(f"layer must run once in the forward pass and output maps (1, K, h, w); "
                         f"it ran {len(seen)} time(s)" + (
                             f" and gave shape {tuple(seen[0].shape)}" if seen and
                             isinstance(seen[0], torch.Tensor) else ""))
    _in_range(target, logits)
    return seen[0], logits[0, target]


def cam(model: nn.Module, x: torch.Tensor, target: int, layer: nn.Module,
        linear: nn.Linear) -> torch.Tensor:
    """Class activation map (Zhou et al., 2016): (h, w), the maps weighted by the target's weights.

    For a network that ends in layer -> global average pooling -> `linear`:
    map[i, j] = sum over k of linear.weight[target, k] * A[k, i, j], where A is
    the layer's output. Its mean plus the bias is the target's logit, so the
    map shows where the score was made. No ReLU: negative parts argued against.
    """
    if not isinstance(linear, nn.Linear):
        raise ValueError(f"linear must be the network's last nn.Linear, got {type(linear).__name__}")
    with torch.no_grad():
        maps = _layer_output(model, layer, x, target)[0][0]               # (K, h, w)
    if maps.shape[0] != linear.in_features:
        raise ValueError(f"the layer gives {maps.shape[0]} maps but linear takes "
                         f"{linear.in_features} inputs: CAM needs layer -> average pooling -> linear")
    return torch.einsum("k,khw->hw", linear.weight[target].detach(), maps).cpu()


def grad_cam(model: nn.Module, x: torch.Tensor, target: int, layer: nn.Module) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al., 2017): (h, w) >= 0, for any layer that outputs maps.

    Each of the layer's K maps is weighted by the mean gradient of the
    target's logit with respect to it; the weighted sum is clipped at 0 (only
    evidence for the class is kept). After the last convolution of a network
    that ends in average pooling and one linear layer, this is the CAM
    clipped at 0 and divided by h * w.
    """
    maps, score = _layer_output(model, layer, x, target)                  # (1, K, h, w), ()
    (grad,) = torch.autograd.grad(score, maps)                            # (1, K, h, w)
    weights = grad[0].mean(dim=(1, 2))                                    # (K,)
    return torch.einsum("k,khw->hw", weights, maps[0]).clamp(min=0).detach().cpu()


def upsample(m: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """A coarse (h, w) map stretched to size (H, W) by bilinear interpolation, to lay over the image."""
    if not isinstance(m, torch.Tensor) or m.dim() != 2:
        raise ValueError(f"need one map (h, w), got {getattr(m, 'shape', type(m).__name__)}")
    return F.interpolate(m[None, None].float(), size=size, mode="bilinear", align_corners=False)[0, 0]


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two maps of one shape (tied values share their mean rank).

    1: the same order of importance; 0: unrelated. Adebayo et al. (2018)
    compare maps this way before and after randomising a network's weights.
    """
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.shape != b.shape:
        raise ValueError(f"need two maps of one shape, got {getattr(a, 'shape', a)!r} and "
                         f"{getattr(b, 'shape', b)!r}")
    ra, rb = _ranks(a.flatten().double()), _ranks(b.flatten().double())
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = (ra.norm() * rb.norm()).item()
    if denom == 0:
        raise ValueError("a map with one value everywhere has no order to compare")
    return (ra @ rb).item() / denom


def _ranks(v: torch.Tensor) -> torch.Tensor:
    """Ranks 0..n-1 of v, ties given the mean of the ranks they span."""
    _, inverse, counts = torch.unique(v, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()                                      # one past each group's last rank
    return (ends - (counts.double() + 1) / 2)[inverse]
