"""helpers.speedrun: each variant removes one idea of the fast recipe and nothing else."""

import pytest
import torch

from helpers import data, models, speedrun, train


@pytest.fixture(scope="module")
def split():
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    return data.Split(images, torch.zeros(16, dtype=torch.long), mean=(0.5,) * 3, std=(0.25,) * 3)


def test_final_is_the_fast_recipe_and_network(split):
    build, recipe = speedrun.variant("final", split)
    assert recipe == train.FAST
    torch.manual_seed(0)
    a = build()
    torch.manual_seed(0)
    b = models.fast_network(split)()
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("name", [n for n in speedrun.VARIANTS if n != "final"])
def test_every_variant_changes_something_and_builds(split, name):
    build, recipe = speedrun.variant(name, split)
    torch.manual_seed(0)
    net = build()
    torch.manual_seed(0)
    final = models.fast_network(split)()
    same_net = all(torch.equal(x, y) for x, y in zip(net.state_dict().values(),
                                                      final.state_dict().values()))
    same_net = same_net and net.logit_scale == final.logit_scale and all(
        p.requires_grad == q.requires_grad for p, q in zip(net.parameters(), final.parameters()))
    assert not (same_net and recipe == train.FAST), name
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_chapter_12s_recipe_is_cifar_in_bfloat16(split):
    _, recipe = speedrun.variant("chapter 12's recipe", split)
    assert recipe == train.CIFAR.replace(epochs=train.FAST.epochs, autocast=True)


def test_run_names_are_plain_and_unknown_variants_are_named(split):
    assert speedrun.run_name("chapter 12's recipe", 2) == "speed-chapter-12-s-recipe-seed2"
    assert speedrun.run_name("no whitening", 0) == "speed-no-whitening-seed0"
    with pytest.raises(ValueError, match="no variant 'fast'.*'final'"):
        speedrun.variant("fast", split)


def test_the_speedrun_benchmark_trains_a_step_and_reports(capsys):
    from benchmarks import cifar_speedrun
    assert cifar_speedrun.main(["--steps", "1", "--train", "1024", "--eval", "128",
                                "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "epoch   1" in out and "with test-time augmentation" in out
    assert "evaluated on 128 validation and 128 test images" in out


def test_the_benchmark_names_a_run_by_its_budget_when_it_is_not_the_recipes():
    from benchmarks.cifar_speedrun import run_name
    assert run_name(train.FAST.replace(seed=1)) == "speedrun-seed1"       # what the chapter loads
    assert run_name(train.FAST.replace(epochs=32)) == "speedrun-32ep-seed0"
    assert run_name(train.FAST.replace(epochs=2.5, seed=3)) == "speedrun-2p5ep-seed3"
    assert run_name(train.FAST.replace(seed=2), jpeg=50) == "speedrun-jpeg50-seed2"
    assert run_name(train.FAST, all_train=True) == "speedrun-all-seed0"


def test_the_benchmark_trains_on_every_training_image_and_watches_the_test_set(capsys):
    from benchmarks import cifar_speedrun
    assert cifar_speedrun.main(["--steps", "1", "--train", "1024", "--eval", "128", "--all-train",
                                "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "all 1,024 training images; the test set is measured after every epoch" in out
    assert "test accuracy" in out.split("epoch   1")[1] and "with the test passes" in out


def test_jpeg_reencoding_moves_pixels_more_at_lower_quality_and_keeps_the_split():
    from benchmarks.cifar_speedrun import jpeg, recompress
    torch.manual_seed(0)
    smooth = torch.nn.functional.interpolate(torch.rand(8, 3, 8, 8), size=32, mode="bilinear")
    images = (smooth * 255).round().to(torch.uint8)          # photo-like: smooth, not noise
    split = data.Split(images, torch.arange(8), mean=(0.5,) * 3, std=(0.25,) * 3)
    moved = {q: (jpeg(images, q).float() - images.float()).abs().mean() for q in (95, 50, 10)}
    assert 0 < moved[95] < moved[50] < moved[10]
    again = recompress(split, 50, "test")
    assert again.images.dtype == torch.uint8 and again.images.shape == images.shape
    assert torch.equal(again.labels, split.labels) and again.mean == split.mean
    assert torch.equal(again.images, jpeg(images, 50))    # the same encoder: the same pixels
    with pytest.raises(ValueError, match="uint8 RGB images"):
        jpeg(images[:, :1], 50)                            # one channel: not what the copy is


@pytest.mark.parametrize("argv, message", [(["--jpeg", "0"], "--jpeg must be a quality"),
                                           (["--jpeg", "96"], "--jpeg must be a quality"),
                                           (["--jpeg", "50", "--ablate", "--epochs", "2"],
                                            "cannot be combined with --ablate"),
                                           (["--all-train", "--ablate", "--epochs", "2"],
                                            "cannot be combined with --ablate")])
def test_the_benchmark_refuses_bad_options(argv, message, capsys):
    from benchmarks import cifar_speedrun
    with pytest.raises(SystemExit):
        cifar_speedrun.main(argv)
    assert message in capsys.readouterr().err


def test_all_train_with_jpeg_reencodes_the_test_set_once(capsys):
    from benchmarks import cifar_speedrun
    assert cifar_speedrun.main(["--steps", "1", "--train", "1024", "--eval", "128", "--all-train",
                                "--jpeg", "50", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("re-encoded at quality 50") == 2 and "validation images re-encoded" not in out
