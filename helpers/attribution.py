"""Which pixels mattered? Saliency (a gradient) and occlusion (an experiment).

Both take a trained model in eval mode and one normalised input (C, H, W),
and return an (H, W) map, larger where the class score depended more on the
pixel. They answer different questions:

- `saliency`: |d score / d pixel|, the largest over the channels. How much the
  score would change for a tiny change of each pixel, at this very input. Cheap
  (one backward pass), but local: it says nothing about larger changes.
- `occlusion`: cover a square patch with a fill value, measure how much the
  class probability drops, slide the patch over the image. A real experiment,
  but as coarse as the patch, and covering with gray is itself a change the
  network never saw in training.
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
    if not isinstance(target, int) or target < 0:
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


def occlusion(model: nn.Module, x: torch.Tensor, target: int, size: int = 4, stride: int = 2,
              fill: float = 0.0, batch_size: int = 256) -> torch.Tensor:
    """Drop in the target class's probability when a size x size patch is covered: (H, W).

    The patch (value `fill` in every channel; 0 is the mean pixel of normalised
    data) slides with `stride`; each pixel gets the mean drop over the patches
    that covered it. Positive: covering it hurt the prediction.
    """
    _check(x, target, model)
    C, H, W = x.shape
    if not 1 <= size <= min(H, W) or stride < 1:
        raise ValueError(f"patch size must be 1 to {min(H, W)} and stride >= 1, got {size}, {stride}")
    device = next(model.parameters()).device
    x = x.detach().to(device)
    spots = [(r, c) for r in range(0, H - size + 1, stride) for c in range(0, W - size + 1, stride)]
    with torch.no_grad():
        base = model(x[None]).softmax(dim=1)[0, target]
        drops = []
        for i in range(0, len(spots), batch_size):
            batch = x.repeat(len(spots[i:i + batch_size]), 1, 1, 1)   # (B, C, H, W)
            for b, (r, c) in enumerate(spots[i:i + batch_size]):
                batch[b, :, r:r + size, c:c + size] = fill
            drops.append(base - model(batch).softmax(dim=1)[:, target])
    drops = torch.cat(drops).cpu().double()
    total = torch.zeros(H, W, dtype=torch.float64)
    count = torch.zeros(H, W, dtype=torch.float64)
    for d, (r, c) in zip(drops, spots):
        total[r:r + size, c:c + size] += d
        count[r:r + size, c:c + size] += 1
    return (total / count.clamp(min=1)).float()
