import pytest

from utils.plotting import plot_history, plot_series, use_book_style
from utils.training import History


def test_plot_series_labels_everything():
    use_book_style()
    ax = plot_series({"train": [3, 2, 1], "test": [4, 3, 3]}, logy=True, title="t", ylabel="loss")
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss" and ax.get_title() == "t"
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "test"]


def test_plot_series_rejects_empty_and_mismatched():
    with pytest.raises(ValueError, match="empty"):
        plot_series({})
    with pytest.raises(ValueError, match="'a' has 2 values but x has 3"):
        plot_series({"a": [1, 2]}, x=[1, 2, 3])


def test_plot_history_uses_epochs_and_labels():
    h = History()
    for epoch in (1, 2):
        h.append(epoch=epoch, train_loss=1 / epoch, test_loss=2 / epoch)
    ax = plot_history(h, ["train_loss", "test_loss"], labels=["train", "test"])
    assert list(ax.lines[0].get_xdata()) == [1, 2]
    with pytest.raises(ValueError, match="labels"):
        plot_history(h, ["train_loss"], labels=["a", "b"])
    with pytest.raises(KeyError):
        plot_history(h, ["nope"])
