"""helpers.plot: the figures that pick what to show."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from helpers import plot, train  # noqa: E402


def test_misclassified_shows_the_most_confident_mistakes_first():
    images = torch.zeros(6, 1, 4, 4, dtype=torch.uint8)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    preds = torch.tensor([0, 2, 0, 1, 1, 1])            # wrong at 1, 2, 3, 5
    conf = torch.tensor([0.9, 0.5, 0.99, 0.7, 0.8, 0.6])
    axes = plot.misclassified(images, labels, preds, ["a", "b", "c"], n=3, confidence=conf)
    titles = [ax.get_title() for ax in axes.flat if ax.get_title()]
    assert titles == ["c -> a\n0.99", "a -> b\n0.70", "c -> b\n0.60"]
    first = [ax.get_title() for ax in plot.misclassified(images, labels, preds, "abc", n=2).flat
             if ax.get_title()]
    assert first == ["b -> c", "c -> a"]
    plt.close("all")
    with pytest.raises(ValueError, match="no misclassified"):
        plot.misclassified(images, labels, labels, "abc")


def test_learning_curves_label_the_evaluation_split():
    h = train.History([train.Epoch(1, 1.0, 0.5, 1.1, 0.4, 100, 0.9, 1.0),
                       train.Epoch(2, 0.8, 0.6, 0.9, 0.5, 100, 0.9, 1.0)], train.Recipe(), "cpu", 1)
    ax = plot.learning_curves({"net": h})
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["net val", "net train"]
    plt.close("all")
