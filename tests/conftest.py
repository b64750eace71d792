"""Shared pytest configuration: a deterministic Hypothesis profile, one torch thread, no release."""

import pytest
import torch
from hypothesis import settings

# Derandomized: the same examples on every run, so CI never flakes on a rare draw.
settings.register_profile("book", derandomize=True, deadline=None, max_examples=150,
                          database=None, print_blob=True)
settings.load_profile("book")


@pytest.fixture(autouse=True)
def no_published_files(monkeypatch, tmp_path_factory):
    """Unit tests never reach for the book's release (the network): they see an empty
    manifest unless a test points CNN_BOOK_PUBLISHED at one of its own."""
    monkeypatch.setenv("CNN_BOOK_PUBLISHED", str(tmp_path_factory.getbasetemp() / "none.json"))


@pytest.fixture(autouse=True)
def one_thread():
    """Unit tests use small tensors that gain nothing from threads; on a busy 2-core
    machine OpenMP threads waiting for each other make them 10 to 50 times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# Files whose tests run a kernel, git or pip: `make unit` leaves them out.
SLOW_FILES = {"test_colab.py", "test_setup_cell.py"}


def pytest_collection_modifyitems(items):
    """Mark each test by where it lives: chapters (nbval) and SLOW_FILES are slow, tests/browser
    is browser; everything else is a unit test of the helpers and tools."""
    for item in items:
        path = item.path
        if path.suffix == ".ipynb" or path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
        if "browser" in path.parts:
            item.add_marker(pytest.mark.browser)
