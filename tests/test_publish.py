"""tools.publish: the runs each chapter's execution recorded are packed with a manifest."""

import hashlib
import json

import pytest
import torch

from helpers import data, datafiles, models, runs
from tools import notebooks, publish


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A store in which every chapter was executed; the first chapter trained one tiny run."""
    monkeypatch.setenv(runs.STORE_ENV, str(tmp_path / "store"))
    monkeypatch.setenv(datafiles.DATA_ENV, str(tmp_path / "data"))
    monkeypatch.setattr(datafiles, "PUBLISHED", tmp_path / "published.json")
    chapters = notebooks.chapter_paths()
    for path in chapters:
        log = notebooks.run_log(path)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
    monkeypatch.setenv(runs.RUN_LOG_ENV, str(notebooks.run_log(chapters[0])))
    images = torch.randint(0, 256, (16, 1, 28, 28), generator=torch.Generator().manual_seed(0),
                           dtype=torch.uint8)
    split = data.Split(images, torch.arange(16) % 10, (0.5,), (0.3,))
    for _ in range(2):   # trained, then loaded: one run in the log, listed once
        runs.fit_or_load("tiny", models.LeNet, split, split, epochs=1, batch_size=8, quiet=True)
    return tmp_path


def test_pack_copies_each_run_once_and_lists_its_hash(store):
    out = publish.pack("9.9.9", store / "release")
    manifest = json.loads(datafiles.PUBLISHED.read_text())
    (entry,) = manifest["runs"]
    assert entry["name"] == "tiny" and entry["file"] == f"tiny-{entry['key']}.pt"
    blob = (out / entry["file"]).read_bytes()
    assert entry["sha256"] == hashlib.sha256(blob).hexdigest() and entry["bytes"] == len(blob)
    assert manifest["url"] == f"{notebooks.repo_url()}/releases/download/v9.9.9/"
    assert set(entry["parts"]) == set(runs.PARTS) and manifest["data"] == []
    history = out / entry["history"]["file"]         # the history alone, for fit_or_load_history
    assert entry["history"]["sha256"] == hashlib.sha256(history.read_bytes()).hexdigest()
    rk = runs.RunKey(entry["name"], entry["parts"])
    stored = torch.load(out / entry["file"], weights_only=True)
    assert runs.read_history(history, rk).to_dict() == json.loads(stored["history"])


def test_pack_refuses_when_a_run_or_a_chapter_is_missing(store):
    for run in (store / "store").glob("tiny-*.pt"):
        run.unlink()
    with pytest.raises(SystemExit, match="runs not in .*tiny-"):
        publish.pack("9.9.9", store / "release")
    last = notebooks.chapter_paths()[-1]
    notebooks.run_log(last).unlink()
    with pytest.raises(SystemExit, match=f"never executed at full budget.*{last.stem}"):
        publish.pack("9.9.9", store / "release")
