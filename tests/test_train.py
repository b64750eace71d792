"""helpers.train: evaluate's counting, the Recipe, fit's learning and reproducibility."""

import math
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import data, models, train


def coded_split(codes, labels):
    """Images whose first pixel holds a class code (0-9) and second a per-image number."""
    n = len(codes)
    images = torch.zeros(n, 1, 2, 2, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.tensor(codes, dtype=torch.uint8)
    images[:, 0, 0, 1] = torch.arange(n, dtype=torch.uint8) * 7 % 50
    return data.Split(images, torch.tensor(labels), mean=(0.0,), std=(1 / 255,))  # x = raw bytes


class CodeReader(nn.Module):
    """Predicts the class written in pixel (0, 0), with a confidence that varies per image."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))  # so the model has a device

    def forward(self, x):
        code = x[:, 0, 0, 0].round().long()
        logits = F.one_hot(code, 10).float() * (1 + x[:, 0, 0, 1:2] / 10)
        return logits + self.dummy


def test_evaluate_counts_correct_predictions_and_averages_loss_per_image():
    codes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3]
    labels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 4]  # the last two are wrong
    split = coded_split(codes, labels)
    model = CodeReader()
    x = split.normalize(split.images)
    per_image = F.cross_entropy(model(x), split.labels, reduction="none")
    result = train.evaluate(model, split, batch_size=4, predictions=True)  # batches of 4, 4, 3
    assert (result.correct, result.total) == (9, 11)
    assert result.accuracy == pytest.approx(9 / 11)
    assert result.predictions.tolist() == codes
    assert result.loss == pytest.approx(per_image.mean().item(), rel=1e-6)
    # averaging the three batch means instead would weight the short batch too much
    batch_means = [per_image[i:i + 4].mean().item() for i in (0, 4, 8)]
    assert abs(sum(batch_means) / 3 - result.loss) > 1e-3


def test_evaluate_restores_the_mode_and_computes_no_gradients():
    model = models.LeNet()
    model.train()
    train.evaluate(model, tiny_task(50), batch_size=20)
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def tiny_task(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    labels = torch.arange(n) % 10
    return data.Split(images, labels, mean=(0.5,), std=(0.29,))


def test_fit_overfits_a_tiny_batch():
    split = tiny_task()
    torch.manual_seed(0)
    model = models.LeNet()
    history = train.fit(model, split, split, epochs=60, lr=3e-3, batch_size=32, device="cpu",
                        progress=False)
    assert history.epochs[0].train_loss > 2.0
    assert history.final.eval_loss < 0.05
    assert history.final.eval_accuracy == 1.0
    assert len(history.epochs) == 60 and history.device == "cpu"


def run(seed, data_seed=0):
    split = tiny_task(64, data_seed)
    torch.manual_seed(seed)
    model = models.SeedsMNISTNet()
    return train.fit(model, split, split, epochs=2, batch_size=16, seed=seed, device="cpu",
                     progress=False)


def test_seeded_runs_reproduce_the_same_loss_exactly():
    a, b, c = run(0), run(0), run(1)
    assert a.column("train_loss") == b.column("train_loss")
    assert a.column("eval_loss") == b.column("eval_loss")
    assert a.column("train_loss") != c.column("train_loss")


def test_fit_refuses_bad_arguments():
    split = tiny_task(8)
    with pytest.raises(ValueError, match="epochs"):
        train.fit(models.LeNet(), split, split, epochs=0)
    with pytest.raises(ValueError, match="optimizer"):
        train.fit(models.LeNet(), split, split, epochs=1, optimizer="rmsprop", device="cpu")


def test_a_fractional_epoch_cuts_the_last_epoch_short():
    split = tiny_task(64)                                    # 4 batches of 16 per epoch
    whole = train.Recipe(epochs=2.0, batch_size=16)
    assert whole == train.Recipe(epochs=2, batch_size=16) and type(whole.epochs) is int
    torch.manual_seed(0)
    h = train.fit(models.SeedsMNISTNet(), split, split, epochs=1.5, batch_size=16, device="cpu",
                  progress=False)
    assert h.recipe.epochs == 1.5 and [e.images for e in h.epochs] == [64, 32]
    first = run(0)                                           # the same seed, two whole epochs
    assert h.epochs[0].train_loss == first.epochs[0].train_loss
    torch.manual_seed(0)
    tiny = train.fit(models.SeedsMNISTNet(), split, split, epochs=0.01, batch_size=16,
                     device="cpu", progress=False)
    assert [e.images for e in tiny.epochs] == [16]             # at least one step


def test_history_round_trips_and_prints_a_table():
    h = run(0)
    again = train.History.from_dict(h.to_dict())
    assert again.epochs == h.epochs and again.recipe == h.recipe
    lines = h.table().splitlines()
    assert len(lines) == 3 and lines[0].split()[:3] == ["epoch", "train", "loss"]


def test_training_time_leaves_out_the_evaluation():
    h = run(0)
    for e in h.epochs:
        assert 0 < e.train_seconds < e.seconds            # evaluation comes after training
        assert e.images_per_s == pytest.approx(64 / e.train_seconds)
    assert h.train_seconds == pytest.approx(sum(e.train_seconds for e in h.epochs))
    assert h.seconds == pytest.approx(sum(e.seconds for e in h.epochs))
    assert h.seconds > h.train_seconds
    assert h.table().splitlines()[0].split()[-4:] == ["train", "s", "epoch", "s"]


def test_confusion_matrix_counts():
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    preds = torch.tensor([0, 1, 1, 2, 0, 2])
    assert train.confusion(labels, preds, 3).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_progress_bar_rules(monkeypatch, capsys):
    monkeypatch.delenv(train.PROGRESS_ENV, raising=False)
    monkeypatch.setenv("CNN_BOOK_FAST", "1")
    assert not train.progress_enabled()           # CI budget: never
    monkeypatch.setenv(train.PROGRESS_ENV, "1")
    assert train.progress_enabled()               # asked for explicitly
    assert not train.progress_enabled(False)
    monkeypatch.delenv("CNN_BOOK_FAST")
    monkeypatch.delenv(train.PROGRESS_ENV)
    assert not train.progress_enabled()           # pytest captures stderr: not a terminal
    run(0)
    assert capsys.readouterr() == ("", "")        # a quiet fit prints nothing
    monkeypatch.setenv(train.PROGRESS_ENV, "1")
    train.fit(models.LeNet(), tiny_task(32), tiny_task(32), epochs=2, batch_size=16)
    assert "4/4" in capsys.readouterr().err       # tqdm's text bar: 2 epochs of 2 batches


def test_training_stops_at_the_first_non_finite_loss():
    split = tiny_task(48)
    torch.manual_seed(0)
    with pytest.raises(train.TrainingDiverged, match=r"at epoch 1, batch 2 of 3") as info:
        train.fit(models.LeNet(), split, split, epochs=3, lr=1e30, optimizer="sgd",
                  batch_size=16, shuffle=False, device="cpu", progress=False)
    assert "learning rate" in str(info.value)
    broken = models.LeNet()
    with torch.no_grad():
        broken.classifier[-1].bias.fill_(float("nan"))  # every output NaN from the start
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 1, batch 1"):
        train.fit(broken, split, split, epochs=1, device="cpu", progress=False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=0), "batch_size must be >= 1, got 0"),
    (dict(batch_size=2.5), "batch_size must be an int"),
    (dict(eval_batch_size=0), "eval_batch_size must be >= 1"),
    (dict(epochs=True), "epochs must be a number, got True"),
    (dict(epochs=-1), "epochs"),
    (dict(epochs=float("nan")), "epochs must be a finite number"),
])
def test_fit_refuses_bad_sizes_before_training(kwargs, message):
    split = tiny_task(8)
    with pytest.raises(ValueError, match=message):
        train.fit(models.LeNet(), split, split, **{"epochs": 1, "device": "cpu", **kwargs})


def test_empty_splits_are_refused_clearly():
    split = tiny_task(8)
    empty = data.Split(split.images[:0], split.labels[:0], split.mean, split.std)
    with pytest.raises(ValueError, match="empty split"):
        train.evaluate(models.LeNet(), empty)
    with pytest.raises(ValueError, match="empty train_data"):
        train.fit(models.LeNet(), empty, split, epochs=1, device="cpu")


def test_fit_asks_pick_device_for_an_unavailable_device(monkeypatch):
    split = tiny_task(8)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for call in (lambda: train.fit(models.LeNet(), split, split, epochs=1, device="cuda"),
                 lambda: train.fit(models.LeNet(), split, split, epochs=1, device=torch.device("cuda"))):
        with pytest.raises(ValueError, match="device 'cuda' was asked for but is not available here"):
            call()


def test_progress_variable_is_parsed_strictly(monkeypatch):
    monkeypatch.setenv(train.PROGRESS_ENV, "maybe")
    with pytest.raises(ValueError, match="CNN_BOOK_PROGRESS must be one of"):
        train.progress_enabled()
    monkeypatch.setenv(train.PROGRESS_ENV, " OFF ")
    assert not train.progress_enabled()
    monkeypatch.setenv(train.PROGRESS_ENV, "Yes")
    assert train.progress_enabled()


def test_mean_and_spread_of_seeded_results():
    assert train.mean_and_spread([0.5, 0.7, 0.6]) == pytest.approx((0.6, 0.2))
    assert train.mean_and_spread([0.9]) == (0.9, 0.0)
    with pytest.raises(ValueError, match="at least one"):
        train.mean_and_spread([])


class LeftRight(nn.Module):
    """Scores class 0 by the left column's mean and class 1 by the right column's."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return torch.stack([x[:, 0, :, 0].mean(1), x[:, 0, :, -1].mean(1)], dim=1) + self.dummy


def test_evaluate_with_flip_averages_each_image_with_its_mirror_image():
    images = torch.zeros(4, 1, 3, 3, dtype=torch.uint8)
    images[0, 0, :, 0] = 200                        # bright left: class 0, mirrored class 1
    images[1, 0, :, 2] = 200                        # bright right: class 1, mirrored class 0
    images[2, 0, :, 0], images[2, 0, :, 2] = 90, 30  # left brighter: class 0, mirrored class 1
    images[3, 0, :, 2] = 90                         # right only: class 1, mirrored class 0
    split = data.Split(images, torch.tensor([0, 1, 0, 1]), mean=(0.0,), std=(1 / 255,))
    model = LeftRight()
    plain = train.evaluate(model, split)
    flipped = train.evaluate(model, split, flip=True)
    assert plain.accuracy == 1.0
    # averaged with its mirror image, every image scores (left + right) / 2 for both classes:
    # a tie, which argmax breaks towards class 0, so only the two class-0 images count as right
    assert flipped.correct == 2
    x = split.normalize(images)
    expected = F.cross_entropy((model(x) + model(x.flip(3))) / 2, split.labels)
    assert flipped.loss == pytest.approx(expected.item(), rel=1e-6)
    assert flipped.loss == pytest.approx(torch.log(torch.tensor(2.0)).item(), rel=1e-6)


def test_weight_grad_norms_match_autograd_layer_by_layer():
    torch.manual_seed(0)
    net = models.ResNetSmall(blocks=2, widths=(4, 8), num_classes=3)
    net.eval()
    x, y = torch.randn(6, 3, 16, 16), torch.tensor([0, 1, 2, 0, 1, 2])
    norms = train.weight_grad_norms(net, x, y)
    assert not net.training                          # its mode is restored
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(norms) == len(convs) == 1 + 2 * 2 * 2   # stem + two per block, 1x1 projection left out
    net.train()
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    assert norms == pytest.approx([c.weight.grad.norm().item() for c in convs])
    every_conv = train.weight_grad_norms(net, x, y, kernel_size=None)
    assert len(every_conv) == len(convs) + 1         # the projection shortcut's 1x1
    assert len(train.weight_grad_norms(net, x, y, layer=nn.Linear)) == 1
    with pytest.raises(ValueError, match="no Conv2d layer with kernel size 5"):
        train.weight_grad_norms(net, x, y, kernel_size=5)




# --------------------------------------------------------------------------- the recipe


def test_a_recipe_holds_plain_numbers_however_they_were_written():
    import numpy as np
    r = train.Recipe(lr=np.float32(1e-3), momentum=torch.tensor(0.9), weight_decay=0,
                     epochs=np.int64(3), seed=torch.tensor(7))
    assert r == train.Recipe(lr=1e-3, momentum=0.9, weight_decay=0.0, epochs=3, seed=7)
    assert type(r.lr) is float and r.lr == 0.001 and type(r.epochs) is int
    assert train.Recipe(weight_decay=-0.0).as_dict() == train.Recipe(weight_decay=0).as_dict()
    assert train.CIFAR.replace(epochs=2).epochs == 2 and train.CIFAR.epochs == 1


@pytest.mark.parametrize("changes, message", [
    (dict(seed=2**64), "seed must be between 0 and 18446744073709551615"),
    (dict(seed=-1), "seed must be between"),
    (dict(lr=float("nan")), "lr must be a finite number"),
    (dict(lr="0.1"), "lr must be a number"),
    (dict(optimizer="rmsprop"), "optimizer must be one of 'adam', 'adamw', 'sgd'"),
    (dict(schedule="step"), "schedule must be one of"),
    (dict(flip=1), "flip must be True or False"),
    (dict(shift=-1), "shift must be >= 0"),
])
def test_a_recipe_refuses_bad_values_by_name(changes, message):
    with pytest.raises(ValueError, match=message):
        train.Recipe(**changes)


def test_a_misspelt_field_is_refused_before_training():
    with pytest.raises(TypeError, match="no field 'epoch'.*epochs, lr"):
        train.fit(models.LeNet(), tiny_task(8), tiny_task(8), epoch=1)
    with pytest.raises(TypeError, match="recipe must be a train.Recipe"):
        train.fit(models.LeNet(), tiny_task(8), tiny_task(8), {"epochs": 1})


def test_fit_names_what_it_got_instead_of_a_split_or_a_model():
    split = tiny_task(8)
    ds = data.Dataset("tiny", split, split, tuple("0123456789"), "made here")
    with pytest.raises(TypeError, match="train_data must be a helpers.data.Split.*dataset.train"):
        train.fit(models.LeNet(), ds, split, epochs=1)
    with pytest.raises(TypeError, match="model must be a torch nn.Module, got type"):
        train.fit(models.LeNet, split, split, epochs=1)
    with pytest.raises(TypeError, match="device must be a str"):
        train.fit(models.LeNet(), split, split, epochs=1, device=1)


def test_a_bad_device_variable_is_named(monkeypatch):
    from helpers import repro
    monkeypatch.setenv(repro.DEVICE_ENV, "gpu")
    with pytest.raises(ValueError, match="unknown device 'gpu' .from the environment variable CNN_BOOK_DEVICE"):
        train.fit(models.LeNet(), tiny_task(8), tiny_task(8), epochs=1)


def test_a_last_batch_of_one_image_with_batchnorm_is_refused_before_training():
    split = tiny_task(17)
    with pytest.raises(ValueError, match="last batch of one image.*take\\(16\\)"):
        train.fit(models.LeNet(batch_norm=True), split, split, epochs=1, batch_size=8)  # BatchNorm1d
    train.fit(models.LeNet(), split, split, epochs=1, batch_size=8, progress=False)  # no BN: fine
    conv_bn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(2704, 10))
    train.fit(conv_bn, split, split, epochs=1, batch_size=8, progress=False)  # 26x26 values: fine


def test_weights_made_non_finite_by_the_last_step_stop_fit():
    split = tiny_task(16)

    class Poison(torch.optim.SGD):
        def step(self, closure=None):
            super().step(closure)
            self.param_groups[0]["params"][0].data.fill_(float("nan"))
    real = train.make_optimizer
    try:
        train.make_optimizer = lambda recipe, model: Poison(model.parameters(), lr=0.01)
        with pytest.raises(train.TrainingDiverged, match="not finite after epoch 1"):
            train.fit(models.LeNet(), split, split, epochs=1, batch_size=16, progress=False)
    finally:
        train.make_optimizer = real


def test_evaluate_restores_the_mode_after_an_error():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            raise RuntimeError("boom")
    model = Broken().train()
    with pytest.raises(RuntimeError, match="boom"):
        train.evaluate(model, tiny_task(4))
    assert model.training


def test_weight_grad_norms_leave_batchnorm_statistics_alone_and_give_nan_without_a_gradient():
    torch.manual_seed(0)
    net = models.ResNetSmall(blocks=1, widths=(4, 8), num_classes=3)
    x, y = torch.randn(6, 3, 16, 16), torch.tensor([0, 1, 2, 0, 1, 2])
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.stem[0].requires_grad_(False)                          # a frozen first convolution
    norms = train.weight_grad_norms(net, x, y)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k                     # running statistics unmoved
    assert norms[0] != norms[0] and all(n == n for n in norms[1:])   # nan for the frozen one
    no_affine = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, affine=False),
                              nn.Flatten(), nn.LazyLinear(3))
    no_affine(x)
    assert train.weight_grad_norms(no_affine, x, y, layer=nn.BatchNorm2d)[0] != \
        train.weight_grad_norms(no_affine, x, y, layer=nn.BatchNorm2d)[0]   # nan: no weight


# --------------------------------------------------------------------------- fast-training additions


def test_later_recipe_fields_enter_the_key_only_when_set():
    old = {k: v for k, v in train.CIFAR.as_dict().items() if k not in train.LATER}
    assert train.CIFAR.key_dict() == old                  # published runs keep their keys
    changed = train.CIFAR.replace(ema=0.9, warmup=0.2).key_dict()
    assert changed["ema"] == 0.9 and changed["warmup"] == 0.2 and "nesterov" not in changed


@pytest.mark.parametrize("kwargs, words", [
    (dict(label_smoothing=1.0), "label_smoothing must be less than 1"),
    (dict(warmup=-0.1), "warmup"), (dict(ema=1.5), "ema must be less than 1"),
    (dict(nesterov=True), "nesterov=True needs optimizer='sgd'"),
    (dict(nesterov=True, optimizer="sgd", momentum=0), "momentum above 0"),
    (dict(autocast="yes"), "autocast"), (dict(schedule="triangle"), "schedule"),
])
def test_later_recipe_fields_are_checked(kwargs, words):
    with pytest.raises(ValueError, match=words):
        train.Recipe(**kwargs)


def test_warmup_then_linear_or_cosine_decay():
    def rates(**fields):
        opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = train.make_schedule(train.Recipe(**fields), opt, 8)
        seen = []
        for _ in range(8):
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return seen
    assert rates(schedule="linear", warmup=0.25) == pytest.approx(
        [0.5, 1.0, 1.0, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6])          # a triangle
    assert rates(schedule="constant", warmup=0.5) == pytest.approx([0.25, 0.5, 0.75, 1, 1, 1, 1, 1])
    assert rates(schedule="cosine", warmup=0.25)[2] == pytest.approx(1.0)
    plain = rates(schedule="cosine")                                  # CosineAnnealingLR, as before
    assert plain[0] == 1.0 and plain[4] == pytest.approx(0.5)


def _fit(**fields):
    split = tiny_task(64)
    torch.manual_seed(0)
    model = models.SeedsMNISTNet()
    history = train.fit(model, split, split, epochs=2, batch_size=16, device="cpu",
                        progress=False, optimizer="sgd", lr=0.05, **fields)
    return model, history, split


def test_label_smoothing_nesterov_and_autocast_change_the_run():
    _, base, _ = _fit()
    for fields in (dict(label_smoothing=0.1), dict(nesterov=True), dict(autocast=True)):
        _, h, _ = _fit(**fields)
        assert h.column("train_loss") != base.column("train_loss")
        assert all(math.isfinite(v) for v in h.column("train_loss"))


def test_ema_returns_and_evaluates_the_averaged_weights():
    plain, _, _ = _fit()
    model, h, split = _fit(ema=0.9)
    differ = [not torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                    plain.state_dict().values())]
    assert any(differ)                                       # the average, not the last weights
    again = train.evaluate(model, split)
    assert again.accuracy == h.final.eval_accuracy and again.loss == pytest.approx(h.final.eval_loss)


def test_evaluate_with_shifts_averages_the_three_moved_views_and_their_mirrors():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.LazyLinear(3)).eval()
    images = torch.randint(0, 256, (5, 1, 6, 6), dtype=torch.uint8)
    split = data.Split(images, torch.tensor([0, 1, 2, 0, 1]), mean=(0.5,), std=(0.25,))
    x = split.normalize(images)
    model(x)                                          # materialise the lazy layer
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    views = [x, padded[..., :6, :6], padded[..., 2:, 2:]]
    views += [v.flip(3) for v in views]
    with torch.no_grad():
        expected = F.cross_entropy(sum(model(v) for v in views) / 6, split.labels).item()
    assert train.evaluate(model, split, flip=True, shift=1).loss == pytest.approx(expected, rel=1e-5)
    assert all(torch.equal(a, b) for a, b in zip(train.tta_views(x, flip=True, shift=1), views))
    assert [len(train.tta_views(x, flip=f, shift=s)) for f in (False, True) for s in (0, 1)] == [1, 3, 2, 6]
    with pytest.raises(ValueError, match="shift must be"):
        train.tta_views(x, shift=6)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        train.tta_views(x[0])
    with pytest.raises(ValueError, match="shift must be"):
        train.evaluate(model, split, shift=6)


def test_the_alternating_flip_and_reflect_padding_are_recipe_choices_kept_out_of_old_keys():
    r = train.Recipe(flip="alternate", shift=2, reflect=True)
    assert r.augment(4, 1)["reflect"] is True
    assert torch.equal(r.augment(4, 2)["flip"], ~r.augment(4, 1)["flip"])
    assert "reflect" not in train.Recipe(flip=True).key_dict()
    assert train.Recipe().augment(4, 1) is False
    with pytest.raises(ValueError, match="flip must be"):
        train.Recipe(flip="sometimes")


def test_fit_trains_with_the_alternating_flip():
    split = data.Split(torch.randint(0, 256, (32, 1, 8, 8), dtype=torch.uint8),
                       torch.randint(0, 2, (32,)), mean=(0.5,), std=(0.25,))
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    history = train.fit(model, split, split, epochs=2, batch_size=8, flip="alternate", shift=1,
                        reflect=True, progress=False)
    assert len(history.epochs) == 2 and history.recipe.flip == "alternate"


def test_bn_bias_lr_gives_batchnorm_biases_their_own_rate_and_the_same_decay_per_step():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.LazyLinear(2))
    recipe = train.Recipe(optimizer="sgd", lr=0.1, weight_decay=1e-3, bn_bias_lr=64)
    opt = train.make_optimizer(recipe, model)
    rest, biases = opt.param_groups
    assert biases["params"] == [model[1].bias] and biases["lr"] == pytest.approx(6.4)
    assert biases["lr"] * biases["weight_decay"] == pytest.approx(rest["lr"] * rest["weight_decay"])
    assert len(rest["params"]) == len(list(model.parameters())) - 1
    assert len(train.make_optimizer(recipe.replace(bn_bias_lr=1), model).param_groups) == 1
    with pytest.raises(ValueError, match="needs the model"):
        train.make_optimizer(recipe, model.parameters())
    with pytest.raises(ValueError, match="bn_bias_lr must be above 0"):
        train.Recipe(bn_bias_lr=0)


def test_training_speed_trains_the_model_and_counts_images_per_second():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 10))
    before = model[1].weight.clone()
    x, y = torch.randn(32, 3, 2, 2), torch.arange(32) % 10
    for autocast in (False, True):
        speed = train.training_speed(model, x, y, autocast=autocast, steps=3)
        assert math.isfinite(speed) and speed > 0
    assert not torch.equal(model[1].weight, before)         # the steps trained it
    with pytest.raises(ValueError, match="steps"):
        train.training_speed(model, x, y, steps=0)
    with pytest.raises(ValueError, match="autocast"):
        train.training_speed(model, x, y, autocast="yes")
