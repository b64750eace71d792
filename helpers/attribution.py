"""Which pixels mattered? Saliency (a gradient) and occlusion (an experiment).

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
"""

from __future__ import annotations

import torch
from torch import nn


def _check(x: torch.Tensor, target: int, model: nn.Module) -> None:
    if x.dim() != 3:
        raise ValueError(f"need one input (C, H, W), got shape {tuple(x.shape)}")
    if model.training:
        raise ValueError("put the model in eval mode first (model.eval()): in train mode "
                         "BatchNorm and Dropout change the answer")
    if not isinstance(target, int) or isinstance(target, bool) or target < 0:
        raise ValueError(f"target must be a class index (int >= 0), got {target!r}")


def saliency(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    """Gradient of the target class's score (logit) w.r.t. the input: (C, H, W) -> (H, W), >= 0.

    The absolute gradient, maximised over channels (Simonyan et al., 2014).
    """
    _check(x, target, model)
    device = next(model.parameters()).device
    x = x.detach().to(device)[None].requires_grad_(True)          # (1, C, H, W)
    score = model(x)[0, target]
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
    _check(x, target, model)
    C, H, W = x.shape
    if not isinstance(size, int) or not isinstance(stride, int) or not 1 <= size <= min(H, W) or stride < 1:
        raise ValueError(f"patch size must be an int from 1 to {min(H, W)} and stride an int >= 1, "
                         f"got {size!r}, {stride!r}")
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    starts_r = sorted(set(range(0, H - size + 1, stride)) | {H - size})
    starts_c = sorted(set(range(0, W - size + 1, stride)) | {W - size})
    spots = [(r, c) for r in starts_r for c in starts_c]
    device = next(model.parameters()).device
    x = x.detach().to(device)
    with torch.no_grad():
        logits = model(x[None])
        if not 0 <= target < logits.shape[1]:
            raise ValueError(f"target must be a class index from 0 to {logits.shape[1] - 1}, got {target}")
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
