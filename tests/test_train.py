"""helpers.train: evaluate's counting, fit's learning and reproducibility, load-or-train."""

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
    assert history.final.test_loss < 0.05
    assert history.final.test_accuracy == 1.0
    assert len(history.epochs) == 60 and history.device == "cpu"


def run(seed, data_seed=0):
    split = tiny_task(64, data_seed)
    torch.manual_seed(seed)
    model = models.SeedsMNISTNet()
    return train.fit(model, split, split, epochs=2, batch_size=16, seed=seed, device="cpu",
                     augment=False, progress=False)


def test_seeded_runs_reproduce_the_same_loss_exactly():
    a, b, c = run(0), run(0), run(1)
    assert a.column("train_loss") == b.column("train_loss")
    assert a.column("test_loss") == b.column("test_loss")
    assert a.column("train_loss") != c.column("train_loss")


def test_fit_refuses_bad_arguments():
    split = tiny_task(8)
    with pytest.raises(ValueError, match="epochs"):
        train.fit(models.LeNet(), split, split, epochs=0)
    with pytest.raises(ValueError, match="optimizer"):
        train.fit(models.LeNet(), split, split, epochs=1, optimizer="rmsprop", device="cpu")


def test_fit_or_load_trains_once_then_loads(tmp_path, monkeypatch):
    split = tiny_task(40)
    kwargs = dict(directory=tmp_path, epochs=2, batch_size=16, device="cpu", progress=False)
    model, first = train.fit_or_load("lenet", models.LeNet, split, split, **kwargs)
    assert not first.loaded and len(list(tmp_path.glob("lenet-*.pt"))) == 1

    def no_training(*args, **kw):
        raise AssertionError("fit_or_load trained although a saved run exists")
    monkeypatch.setattr(train, "fit", no_training)
    again, second = train.fit_or_load("lenet", models.LeNet, split, split, **kwargs)
    assert second.loaded and second.epochs == first.epochs
    for (k, v), w in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(v, w), k
    x = split.normalize(split.images)
    model.eval(), again.eval()
    assert torch.equal(model(x), again(x))


def test_fit_or_load_retrains_when_the_config_changes(tmp_path):
    split = tiny_task(40)
    kwargs = dict(directory=tmp_path, epochs=1, batch_size=16, device="cpu", progress=False)
    train.fit_or_load("m", models.LeNet, split, split, **kwargs)
    _, h = train.fit_or_load("m", models.LeNet, split, split, **{**kwargs, "lr": 1e-2})
    assert not h.loaded
    _, h = train.fit_or_load("m", models.LeNet, tiny_task(40, seed=1), split, **kwargs)
    assert not h.loaded
    _, h = train.fit_or_load("m", lambda: models.LeNet(batch_norm=True), split, split, **kwargs)
    assert not h.loaded
    _, h = train.fit_or_load("m", models.LeNet, split, split, **kwargs)
    assert h.loaded
    assert len(list(tmp_path.glob("m-*.pt"))) == 4


def test_history_round_trips_and_prints_a_table():
    h = run(0)
    again = train.History.from_dict(h.to_dict())
    assert again.epochs == h.epochs and again.config == h.config
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


def test_a_history_saved_before_train_seconds_recovers_it_from_the_throughput():
    h = run(0)
    old = h.to_dict()
    for e in old["epochs"]:
        del e["train_seconds"]
    with pytest.raises(ValueError, match="train_images"):
        train.History.from_dict(old)
    again = train.History.from_dict(old, train_images=64)
    assert again.column("train_seconds") == pytest.approx(h.column("train_seconds"))


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
    bar = train.ProgressBar(3, enabled=True)
    for _ in range(3):
        bar.step("working")
    bar.close()
    assert "3/3  working" in capsys.readouterr().err


def test_fit_or_load_key_ignores_how_defaults_are_spelled(tmp_path):
    split = tiny_task(40)
    kwargs = dict(directory=tmp_path, epochs=1, batch_size=16, device="cpu", progress=False)
    train.fit_or_load("m", models.LeNet, split, split, **kwargs)
    _, h = train.fit_or_load("m", models.LeNet, split, split, lr=1e-3, optimizer="adam", **kwargs)
    assert h.loaded


# --------------------------------------------------------------------------- issue 13: never lose a run


def never_train(monkeypatch):
    def no_training(*args, **kw):
        raise AssertionError("fit_or_load trained although it should have refused first")
    monkeypatch.setattr(train, "fit", no_training)


def test_fit_or_load_checks_the_directory_before_training(tmp_path, monkeypatch):
    split = tiny_task(16)
    never_train(monkeypatch)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(OSError, match=r"cannot save trained models in .*not-a-folder.*nothing was trained"):
        train.fit_or_load("m", models.LeNet, split, split, directory=blocker / "runs", epochs=1,
                          device="cpu")

    def refuse(*args, **kwargs):  # what a read-only folder answers (root would not see it)
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(train.tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match=r"cannot save trained models in .*ro.*Permission denied"):
        train.fit_or_load("m", models.LeNet, split, split, directory=tmp_path / "ro", epochs=1,
                          device="cpu")


def test_fit_or_load_returns_the_model_when_saving_fails(tmp_path, monkeypatch):
    split = tiny_task(16)

    def full_disk(obj, f, *args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.warns(RuntimeWarning, match=r"could not save the trained model to .*m-\w+\.pt"):
        model, history = train.fit_or_load("m", models.LeNet, split, split, directory=tmp_path,
                                           epochs=1, batch_size=16, device="cpu", progress=False)
    assert isinstance(model, models.LeNet) and len(history.epochs) == 1 and not history.loaded
    assert list(tmp_path.iterdir()) == []  # no half-written or temporary file left behind


def saved_run(tmp_path):
    split = tiny_task(16)
    kwargs = dict(directory=tmp_path, epochs=1, batch_size=16, device="cpu", progress=False)
    train.fit_or_load("m", models.LeNet, split, split, **kwargs)
    (path,) = tmp_path.glob("m-*.pt")
    return path, lambda **extra: train.fit_or_load("m", models.LeNet, split, split, **kwargs, **extra)


@pytest.mark.parametrize("damage", ["truncated", "empty", "random bytes", "text", "bad history",
                                    "not a run"])
def test_a_damaged_saved_run_names_the_file_and_how_to_retrain(tmp_path, damage):
    path, again = saved_run(tmp_path)
    good = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "random bytes":
        path.write_bytes(torch.randint(0, 256, (4000,), generator=torch.Generator().manual_seed(0),
                                       dtype=torch.uint8).numpy().tobytes())
    elif damage == "text":
        path.write_text("edited by hand\n")
    elif damage == "bad history":
        saved = torch.load(path, weights_only=True)
        torch.save({"model": saved["model"], "history": "{not json"}, path)
    else:
        torch.save([1, 2, 3], path)
    with pytest.raises(train.CachedRunError) as info:
        again()
    message = str(info.value)
    assert str(path) in message and "retrain=True" in message and "delete" in message
    assert "weights_only" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no torch advice below it
    model, history = again(retrain=True)  # the way out the message names
    assert not history.loaded and again()[1].loaded


def test_two_writers_use_different_temporary_files(tmp_path, monkeypatch):
    split = tiny_task(16)
    real_save, targets = torch.save, []

    def recording_save(obj, f, *args, **kwargs):
        targets.append(str(f))
        return real_save(obj, f, *args, **kwargs)
    monkeypatch.setattr(torch, "save", recording_save)
    kwargs = dict(directory=tmp_path, epochs=1, batch_size=16, device="cpu", progress=False)
    for _ in range(2):  # the same model twice, as two notebooks running at once would
        train.fit_or_load("m", models.LeNet, split, split, retrain=True, **kwargs)
    assert len(targets) == 2 and targets[0] != targets[1]
    assert not targets[0].endswith(".pt") and [p.suffix for p in tmp_path.iterdir()] == [".pt"]


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".", "", "/tmp/x", "a\\b", 3])
def test_fit_or_load_refuses_names_that_are_not_plain_stems(tmp_path, monkeypatch, name):
    split = tiny_task(8)
    never_train(monkeypatch)
    with pytest.raises(ValueError, match="plain file name stem"):
        train.fit_or_load(name, models.LeNet, split, split, directory=tmp_path / "d", epochs=1,
                          device="cpu")
    assert not (tmp_path / "d").exists() and not (tmp_path / "x-").exists()


def test_training_stops_at_the_first_non_finite_loss():
    split = tiny_task(48)
    torch.manual_seed(0)
    with pytest.raises(train.TrainingDiverged, match=r"at epoch 1, batch 2 of 3") as info:
        train.fit(models.LeNet(), split, split, epochs=3, lr=float("inf"), optimizer="sgd",
                  batch_size=16, shuffle=False, device="cpu", progress=False)
    assert "learning rate" in str(info.value)
    broken = models.LeNet()
    with torch.no_grad():
        broken.classifier[-1].bias.fill_(float("nan"))  # every output NaN from the start
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 1, batch 1"):
        train.fit(broken, split, split, epochs=1, device="cpu", progress=False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=0), "batch_size must be a positive int, got 0"),
    (dict(batch_size=2.5), "batch_size must be a positive int"),
    (dict(eval_batch_size=0), "eval_batch_size must be a positive int"),
    (dict(epochs=True), "epochs must be a positive int, got True"),
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
                 lambda: train.fit(models.LeNet(), split, split, epochs=1, device=torch.device("cuda")),
                 lambda: train.fit_or_load("m", models.LeNet, split, split, epochs=1, device="cuda")):
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


def test_the_cifar_recipe_is_a_valid_fit_recipe():
    assert train.CIFAR_RECIPE["schedule"] == "cosine" and train.CIFAR_RECIPE["augment"] is True
    split = tiny_task(16)
    history = train.fit(models.LeNet(), split, split, epochs=1, **dict(train.CIFAR_RECIPE, batch_size=8))
    assert len(history.epochs) == 1 and history.config["lr"] == train.CIFAR_RECIPE["lr"]


def test_saved_run_path_is_where_fit_or_load_saves(tmp_path):
    split = tiny_task(16)
    args = dict(epochs=1, batch_size=8, seed=3)
    path = train.saved_run_path("tiny", models.LeNet, split, split, directory=tmp_path, **args)
    assert not path.exists()
    train.fit_or_load("tiny", models.LeNet, split, split, directory=tmp_path, **args)
    assert path.exists() and list(tmp_path.glob("tiny-*.pt")) == [path]
    other = train.saved_run_path("tiny", models.LeNet, split, split, directory=tmp_path,
                                 **dict(args, seed=4))
    assert other != path and not other.exists()
