"""helpers.repro: the strict on/off environment flags, and device choice."""

import pytest
import torch

from helpers import repro


@pytest.mark.parametrize("raw, want", [
    ("1", True), ("true", True), ("YES", True), (" on ", True),
    ("0", False), ("false", False), ("No", False), ("off", False), ("", False), ("  ", False),
])
def test_env_flag_accepts_the_usual_spellings(monkeypatch, raw, want):
    monkeypatch.setenv("CNN_BOOK_OFFLINE", raw)
    assert repro.env_flag("CNN_BOOK_OFFLINE") is want


def test_env_flag_unset_is_off(monkeypatch):
    monkeypatch.delenv("CNN_BOOK_OFFLINE", raising=False)
    assert repro.env_flag("CNN_BOOK_OFFLINE") is False


@pytest.mark.parametrize("raw", ["maybe", "2", "tru", "enabled", "1 0"])
def test_env_flag_refuses_anything_else_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("CNN_BOOK_OFFLINE", raw)
    with pytest.raises(ValueError, match=rf"CNN_BOOK_OFFLINE.*{raw!r}"):
        repro.env_flag("CNN_BOOK_OFFLINE")


def test_fast_mode_uses_the_strict_parser(monkeypatch):
    monkeypatch.setenv(repro.FAST_ENV, "On")
    assert repro.fast_mode()
    monkeypatch.setenv(repro.FAST_ENV, "fast")
    with pytest.raises(ValueError, match="CNN_BOOK_FAST.*'fast'"):
        repro.fast_mode()


def test_pick_device_takes_a_torch_device(monkeypatch):
    monkeypatch.delenv(repro.DEVICE_ENV, raising=False)
    assert repro.pick_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="not available here"):
        repro.pick_device(torch.device("cuda"))


def test_only_repro_reads_the_environment_and_every_setting_is_listed():
    import pathlib
    import re
    root = pathlib.Path(repro.__file__).parents[1]
    readers = [p.relative_to(root).as_posix() for p in (root / "helpers").rglob("*.py")
               if re.search(r"os\.environ|os\.getenv", p.read_text())]
    assert readers == ["helpers/repro.py"]
    named = set()
    for folder in ("helpers", "tools", "benchmarks"):
        for p in (root / folder).rglob("*.py"):
            named |= set(re.findall(r"\bCNN_BOOK_[A-Z_]+\b", p.read_text()))
    named -= {"CNN_BOOK_COLAB_JOBS"}   # none of the helpers' settings (tests only)
    assert named <= set(repro.SETTINGS), named - set(repro.SETTINGS)


def test_an_unknown_setting_is_refused():
    with pytest.raises(KeyError, match="CNN_BOOK_FASTT"):
        repro.setting("CNN_BOOK_FASTT")
