"""helpers.runs: the key, the local store, and published runs served from a local HTTP server."""

import functools
import hashlib
import http.server
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from torch import nn

from helpers import data, datafiles, models, runs, train


def tiny_task(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    return data.Split(images, torch.arange(n) % 10, mean=(0.5,), std=(0.29,))


FAST = dict(epochs=1, batch_size=16, progress=False)


def fit_or_load(store, name="m", build=models.LeNet, split=None, **kw):
    split = split if split is not None else tiny_task(32)
    return runs.fit_or_load(name, build, split, split, store=store, **{**FAST, **kw})


def key(build=models.LeNet, split=None, **recipe):
    split = split if split is not None else tiny_task(16)
    return runs.identify("m", build, split, split, train.Recipe(**recipe))[1]


def refuse_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("trained although it should have loaded or refused first")
    monkeypatch.setattr(train, "fit", refuse)


@pytest.fixture
def no_training(monkeypatch):
    refuse_training(monkeypatch)


# --------------------------------------------------------------------------- the key


def test_trains_once_then_loads_the_same_weights(tmp_path, monkeypatch, capsys):
    model, first = fit_or_load(tmp_path, epochs=2)
    assert first.origin == "trained" and "m: trained now in" in capsys.readouterr().out
    monkeypatch.setattr(train, "fit", None)  # loading never calls fit
    again, second = fit_or_load(tmp_path, epochs=2)
    assert second.origin == "store" and second.epochs == first.epochs
    line = capsys.readouterr().out
    assert line.startswith("m: loaded from the local store; training it took") and "2 epochs" in line
    for (k, v), w in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(v, w), k


def test_the_key_changes_with_what_decides_the_result():
    base = key()
    assert key(lr=1e-2) != base
    assert key(split=tiny_task(16, seed=1)) != base
    assert key(build=lambda: models.LeNet(batch_norm=True)) != base
    assert key(seed=1) != base                                   # other starting weights
    assert key(weight_decay=0) == key(weight_decay=0.0) == base  # numbers compared as numbers
    assert key(lr=np.float32(1e-3), momentum=torch.tensor(0.9)) == base
    assert key(lr=1e-3, optimizer="adam") == base                # defaults spelt out
    parts = key(lr=1e-2).parts
    assert [p for p in runs.PARTS if parts[p] != base.parts[p]] == ["recipe"]


def test_the_key_ignores_the_device_threads_and_memory_format(monkeypatch):
    base = key()
    torch.set_num_threads(2)
    assert key() == base
    assert key(build=lambda: models.LeNet().to("cpu", memory_format=torch.channels_last)) == base
    monkeypatch.setenv("CNN_BOOK_DEVICE", "cpu")
    assert key() == base


def colour_task(n=64):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    return data.Split(images, torch.arange(n) % 10, mean=(0.5,) * 3, std=(0.25,) * 3)


def test_weights_computed_from_the_data_count_by_how_they_are_made():
    split = colour_task()
    build = models.fast_network(split, whiten_images=32)
    assert set(build.derived_from_data) == {"whiten.weight"}
    threads = torch.get_num_threads()
    try:
        keys = []
        for n in (1, 2):  # the eigenvectors' last bits (even their signs) may differ
            torch.set_num_threads(n)
            keys.append(key(build=build, split=split))
    finally:
        torch.set_num_threads(threads)
    assert keys[0] == keys[1]
    # other images for the whitening, other starting weights elsewhere: other keys
    assert key(build=models.fast_network(split, whiten_images=16), split=split) != keys[0]
    assert key(build=build, split=split, seed=1).parts["weights"] != keys[0].parts["weights"]


def test_a_derived_weight_counts_by_its_description_not_its_value():
    signs = iter([1.0, -1.0, 1.0])

    def build():  # the same layer, its sign flipped as another thread count may flip it
        net = models.SpeedNet()
        with torch.no_grad():
            net.whiten.weight.mul_(next(signs))
        return net
    split = colour_task(8)
    assert key(build=build, split=split) != key(build=build, split=split)   # without the attribute
    build.derived_from_data = {"whiten.weight": "made from the data"}
    first = key(build=build, split=split)
    signs = iter([-1.0, 1.0])
    assert key(build=build, split=split) == first
    build.derived_from_data = {"whiten.weight": "made from other data"}
    assert key(build=build, split=split) != first


@pytest.mark.parametrize("derived, error", [({"whiten.bias": 3}, TypeError), ({}, TypeError),
                                            ({"nope": "made from data"}, ValueError)])
def test_a_bad_derived_from_data_is_named(derived, error):
    def build():
        return models.SpeedNet()
    build.derived_from_data = derived
    with pytest.raises(error, match="derived_from_data"):
        key(build=build, split=colour_task(8))


def make_net(source):
    """A module class defined from source text, as a notebook cell defines one."""
    namespace = {"nn": nn, "torch": torch, "__name__": "__main__"}
    filename = f"<cell-{hashlib.sha1(source.encode()).hexdigest()[:8]}>"
    import linecache
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    return namespace["Net"]


NET = '''
class Net(nn.Module):
    """A tiny network."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))  # a comment
'''


def test_an_edited_forward_trains_anew_but_a_comment_or_docstring_does_not():
    base = key(build=make_net(NET))
    edited = NET.replace("self.fc(x.flatten(1))", "self.fc(x.flatten(1)).relu()")
    assert key(build=make_net(edited)).parts["code"] != base.parts["code"]
    cosmetic = NET.replace("# a comment", "# another").replace("A tiny network", "Tiny")
    assert key(build=make_net(cosmetic)) == base


def test_a_clearer_check_in_init_keeps_the_key_but_what_init_builds_or_stores_does_not():
    """__init__'s source is not hashed: the layers, the plain values it stores and the starting
    weights are, so rewording an argument check keeps the published runs."""
    base = key(build=make_net(NET))
    checked = NET.replace("super().__init__()\n", "super().__init__()\n        assert True\n")
    assert checked != NET and key(build=make_net(checked)) == base
    wider = NET.replace("nn.Linear(784, 10)", "nn.Linear(784, 10, bias=False)")
    assert key(build=make_net(wider)).parts["architecture"] != base.parts["architecture"]
    stored = NET.replace("self.fc = nn.Linear(784, 10)", "self.fc = nn.Linear(784, 10)\n"
                         "        self.scale = 2.0")
    assert key(build=make_net(stored)).parts["architecture"] != base.parts["architecture"]
    frozen = NET.replace("nn.Linear(784, 10)", "nn.Linear(784, 10).requires_grad_(False)")
    assert key(build=make_net(frozen)).parts["architecture"] != base.parts["architecture"]


def test_a_class_moved_to_another_module_keeps_its_key():
    base = key(build=make_net(NET))
    moved = make_net(NET)
    moved.__module__ = "helpers.models.elsewhere"
    assert key(build=moved) == base


def test_fine_tuning_from_other_starting_weights_trains_anew(tmp_path):
    pretrained = {}

    def fine_tuned():
        net = models.LeNet()
        net.load_state_dict(pretrained)
        return net
    pretrained.update(models.LeNet().state_dict())
    fit_or_load(tmp_path, build=fine_tuned)
    with torch.no_grad():
        next(iter(pretrained.values())).add_(1)
    assert fit_or_load(tmp_path, build=fine_tuned)[1].origin == "trained"


@pytest.mark.parametrize("build, message", [
    (models.LeNet(), "build must be a function.*an instance"),
    (lambda: None, "build\\(\\) must return an nn.Module, but it returned None"),
    ("LeNet", "build must be a function"),
])
def test_a_build_that_is_not_a_model_maker_is_named(tmp_path, no_training, build, message):
    with pytest.raises(TypeError, match=message):
        fit_or_load(tmp_path, build=build)


def test_a_dataset_passed_as_a_split_is_named(tmp_path, no_training):
    split = tiny_task(8)
    ds = data.Dataset("tiny", split, split, tuple("0123456789"), "made here")
    with pytest.raises(TypeError, match="train_data must be a helpers.data.Split.*dataset.train"):
        runs.fit_or_load("m", models.LeNet, ds, split, store=tmp_path)


@pytest.mark.parametrize("bad", [dict(lr=np.float32("nan")), dict(epoch=1), dict(seed=2**64)])
def test_a_bad_recipe_is_refused_before_training(tmp_path, no_training, bad):
    with pytest.raises((ValueError, TypeError)):
        fit_or_load(tmp_path, **bad)
    assert not tmp_path.joinpath("m").exists() and list(tmp_path.iterdir()) == []


def test_numpy_numbers_train_and_save(tmp_path):
    _, h = fit_or_load(tmp_path, lr=np.float32(1e-3), momentum=np.float64(0.9))
    assert h.recipe.lr == 1e-3 and len(list(tmp_path.glob("m-*.pt"))) == 1
    assert fit_or_load(tmp_path)[1].origin == "store"


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".", "", "/tmp/x", "a\\b", 3, ".hidden",
                                  "x" * 101])
def test_names_that_are_not_plain_stems_are_refused(tmp_path, no_training, name):
    with pytest.raises(ValueError, match="plain file name stem"):
        fit_or_load(tmp_path / "d", name=name)
    assert not (tmp_path / "d").exists()


def test_locate_is_where_fit_or_load_saves_and_refuses_typos(tmp_path):
    split = tiny_task(16)
    path = runs.locate("tiny", models.LeNet, split, split, epochs=1, batch_size=8, store=tmp_path)
    assert not path.exists()
    runs.fit_or_load("tiny", models.LeNet, split, split, epochs=1, batch_size=8, store=tmp_path,
                     progress=False)
    assert list(tmp_path.glob("tiny-*.pt")) == [path]
    with pytest.raises(TypeError, match="no field 'epoch'"):
        runs.locate("tiny", models.LeNet, split, split, epoch=1, store=tmp_path)


# --------------------------------------------------------------------------- the local store


def test_the_store_is_checked_before_training(tmp_path, no_training, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(OSError, match=r"cannot save trained models in .*not-a-folder.*nothing was trained"):
        fit_or_load(blocker / "runs")
    monkeypatch.setenv(runs.STORE_ENV, str(blocker / "runs"))
    with pytest.raises(OSError, match="CNN_BOOK_STORE"):
        runs.fit_or_load("m", models.LeNet, tiny_task(8), tiny_task(8), epochs=1)


def test_a_run_whose_weights_are_not_finite_is_never_stored(tmp_path, monkeypatch):
    real_fit = train.fit

    def poisoned(model, *args, **kwargs):
        history = real_fit(model, *args, **kwargs)
        with torch.no_grad():
            next(model.parameters()).fill_(float("nan"))
        return history
    monkeypatch.setattr(train, "fit", poisoned)
    with pytest.raises(train.TrainingDiverged, match="not finite"):
        fit_or_load(tmp_path)
    assert list(tmp_path.glob("*.pt")) == []


def saved(tmp_path):
    fit_or_load(tmp_path)
    (path,) = tmp_path.glob("m-*.pt")
    return path


@pytest.mark.parametrize("damage", ["truncated", "empty", "random bytes", "text", "bad history",
                                   "not a run", "zero epochs", "another key"])
def test_a_damaged_saved_run_is_named_and_trained_again(tmp_path, capsys, damage):
    path = saved(tmp_path)
    good = path.read_bytes()
    payload = torch.load(path, weights_only=True)
    if damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4000))
    elif damage == "text":
        path.write_text("edited by hand\n")
    elif damage == "bad history":
        torch.save({**payload, "history": "{not json"}, path)
    elif damage == "not a run":
        torch.save([1, 2, 3], path)
    elif damage == "zero epochs":
        history = json.loads(payload["history"])
        torch.save({**payload, "history": json.dumps({**history, "epochs": []})}, path)
    else:
        torch.save({**payload, "key": "0" * 16}, path)
    capsys.readouterr()
    _, history = fit_or_load(tmp_path)
    out = capsys.readouterr().out
    assert f"the saved run {path} cannot be used" in out and "weights_only" not in out
    assert history.origin == "trained" and fit_or_load(tmp_path)[1].origin == "store"


def test_saved_runs_are_readable_by_every_user(tmp_path):
    assert saved(tmp_path).stat().st_mode & 0o777 == 0o644


def test_an_unreadable_run_is_called_unreadable_not_truncated(tmp_path, capsys, monkeypatch):
    path = saved(tmp_path)
    capsys.readouterr()
    monkeypatch.setattr(runs.os, "access", lambda p, mode: False)
    fit_or_load(tmp_path)
    assert "not readable by this user (its permissions)" in capsys.readouterr().out


def test_a_temporary_file_left_by_a_killed_writer_is_cleaned(tmp_path):
    path = saved(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    abandoned = tmp_path / f".{path.stem}-{dead}-abc.tmp"
    abandoned.write_bytes(b"half a run")
    alive = tmp_path / f".{path.stem}-{os.getpid()}-abc.tmp"
    alive.write_bytes(b"being written")
    fit_or_load(tmp_path, retrain=True)
    assert not abandoned.exists() and alive.exists()


def test_retrain_and_the_retrain_variable_always_train(tmp_path, monkeypatch):
    saved(tmp_path)
    assert fit_or_load(tmp_path, retrain=True)[1].origin == "trained"
    monkeypatch.setenv(runs.RETRAIN_ENV, "1")
    assert fit_or_load(tmp_path)[1].origin == "trained"
    monkeypatch.setenv(runs.RETRAIN_ENV, "perhaps")
    with pytest.raises(ValueError, match="CNN_BOOK_RETRAIN"):
        fit_or_load(tmp_path)


def test_saving_fails_loudly_after_training_without_a_half_written_file(tmp_path, monkeypatch):
    def full_disk(obj, f, *args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        fit_or_load(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_run_log_records_what_each_call_did(tmp_path, monkeypatch):
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv(runs.RUN_LOG_ENV, str(log))
    fit_or_load(tmp_path / "store")
    fit_or_load(tmp_path / "store")
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["origin"] for r in rows] == ["trained", "store"]
    assert rows[0]["file"] == f"m-{rows[0]['key']}.pt" and set(rows[0]["parts"]) == set(runs.PARTS)


# --------------------------------------------------------------------------- published runs


@pytest.fixture
def server(tmp_path):
    """A quiet HTTP server on 127.0.0.1 serving tmp_path/release."""
    folder = tmp_path / "release"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def published(tmp_path, server, monkeypatch):
    """One run trained, published to the local server with a manifest, and the store emptied."""
    folder, url = server
    path = saved(tmp_path / "maker")
    shutil.copy(path, folder / path.name)
    payload = torch.load(path, weights_only=True)
    history = folder / (path.stem + runs.HISTORY_SUFFIX)
    runs.write_history(path, history)
    entry = {"name": "m", "key": payload["key"], "file": path.name, "bytes": path.stat().st_size,
             "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
             "parts": json.loads(payload["parts"]),
             "history": {"file": history.name, "bytes": history.stat().st_size,
                         "sha256": hashlib.sha256(history.read_bytes()).hexdigest()}}
    manifest = tmp_path / "published.json"
    manifest.write_text(json.dumps({"version": "0.0.0", "url": url, "runs": [entry]}))
    monkeypatch.setenv(datafiles.PUBLISHED_ENV, str(manifest))
    return folder / path.name, tmp_path / "reader"


def test_a_published_run_is_downloaded_checked_and_then_kept(published, capsys, no_training):
    served, store = published
    model, history = fit_or_load(store)
    assert history.origin == "published" and (store / served.name).exists()
    assert "m: downloaded the published run (SHA-256 checked)" in capsys.readouterr().out
    served.unlink()                                   # the second time needs no server
    assert fit_or_load(store)[1].origin == "store"


@pytest.mark.parametrize("tamper", ["one byte changed", "truncated"])
def test_a_tampered_published_file_is_refused_and_training_goes_on(published, capsys, tamper):
    served, store = published
    blob = bytearray(served.read_bytes())
    if tamper == "truncated":
        blob = blob[: len(blob) // 2]
    else:
        blob[len(blob) // 2] ^= 1
    served.write_bytes(bytes(blob))
    _, history = fit_or_load(store)
    out = capsys.readouterr().out
    assert "is refused: its SHA-256 is not the manifest's" in out and served.name in out
    assert history.origin == "trained"
    assert [p.name for p in store.iterdir()] == [served.name]   # no temporary file left


def test_a_published_file_of_another_run_is_refused(published, capsys):
    served, store = published
    other = torch.load(served, weights_only=True)
    torch.save({**other, "key": "f" * 16}, served)
    path = pathlib.Path(os.environ[datafiles.PUBLISHED_ENV])
    manifest = json.loads(path.read_text())
    manifest["runs"][0]["sha256"] = hashlib.sha256(served.read_bytes()).hexdigest()
    path.write_text(json.dumps(manifest))
    _, history = fit_or_load(store)
    assert "is refused (it holds the run with key 'ffffffffffffffff'" in capsys.readouterr().out
    assert history.origin == "trained"


def test_offline_or_unpublished_it_says_so_in_one_line_and_trains(published, capsys, monkeypatch):
    served, store = published
    served.unlink()                                   # the release has no such file (404)
    _, history = fit_or_load(store)
    out = capsys.readouterr().out.splitlines()
    assert history.origin == "trained" and len(out) == 2
    assert "could not be downloaded" in out[0] and out[1].startswith("m: trained now")
    monkeypatch.setenv("CNN_BOOK_OFFLINE", "1")
    _, history = fit_or_load(store / "again")
    assert "CNN_BOOK_OFFLINE is set" in capsys.readouterr().out


def test_a_mismatch_with_the_published_run_of_that_name_says_what_differs(published, capsys):
    _, store = published
    fit_or_load(store, lr=0.01)
    assert "made with other recipe; training this one" in capsys.readouterr().out


def test_the_committed_manifest_lists_files_with_their_hashes():
    manifest = datafiles.published(datafiles.PUBLISHED)
    for entry in manifest["runs"]:
        assert set(entry) >= {"name", "key", "file", "bytes", "sha256", "parts", "history"}
        assert entry["file"] == f"{entry['name']}-{entry['key']}.pt"
        assert entry["history"]["file"] == f"{entry['name']}-{entry['key']}{runs.HISTORY_SUFFIX}"
    for entry in manifest["runs"] + manifest["data"] + [e["history"] for e in manifest["runs"]]:
        assert len(entry["sha256"]) == 64 and entry["bytes"] > 0


# --------------------------------------------------------------------------- the history alone


def history_only(store, split=None, **kw):
    split = split if split is not None else tiny_task(32)
    return runs.fit_or_load_history("m", models.LeNet, split, split, store=store, **{**FAST, **kw})


def test_the_history_alone_is_read_from_the_stored_run(tmp_path, monkeypatch):
    _, trained = fit_or_load(tmp_path)
    refuse_training(monkeypatch)
    history = history_only(tmp_path)
    assert history.origin == "store" and history.epochs == trained.epochs


def test_the_history_alone_trains_and_stores_the_whole_run_when_nothing_is_found(tmp_path):
    history = history_only(tmp_path)
    assert history.origin == "trained"
    model, again = fit_or_load(tmp_path)                  # the weights were kept too
    assert again.origin == "store" and again.epochs == history.epochs


def test_a_published_history_is_downloaded_without_the_weights(published, capsys, monkeypatch):
    served, store = published
    refuse_training(monkeypatch)
    history = history_only(store)
    assert history.origin == "published history"
    assert "m: downloaded the published run's history, without its weights" in capsys.readouterr().out
    assert sorted(p.name for p in store.iterdir()) == [served.stem + runs.HISTORY_SUFFIX]
    (served.parent / (served.stem + runs.HISTORY_SUFFIX)).unlink()   # now it needs no server
    again = history_only(store)
    assert again.origin == "store" and again.epochs == history.epochs


def test_a_tampered_published_history_is_refused_and_training_goes_on(published, capsys):
    served, store = published
    history = served.parent / (served.stem + runs.HISTORY_SUFFIX)
    history.write_text(history.read_text().replace('"epoch": 1', '"epoch": 2'))
    assert history_only(store).origin == "trained"
    out = capsys.readouterr().out
    assert "is refused: its SHA-256 is not the manifest's" in out and history.name in out


def test_without_a_published_history_the_whole_run_is_downloaded(published, monkeypatch):
    served, store = published
    path = pathlib.Path(os.environ[datafiles.PUBLISHED_ENV])
    manifest = json.loads(path.read_text())
    del manifest["runs"][0]["history"]                    # a manifest written before histories
    path.write_text(json.dumps(manifest))
    refuse_training(monkeypatch)
    assert history_only(store).origin == "published" and (store / served.name).exists()


@pytest.mark.parametrize("damage", ["another run's", "not JSON"])
def test_a_stored_history_that_cannot_be_used_is_named(tmp_path, capsys, damage):
    source = saved(tmp_path / "maker")
    rk = runs.identify("m", models.LeNet, tiny_task(32), tiny_task(32),
                       train.Recipe(epochs=1, batch_size=16))[1]
    target = tmp_path / "reader" / rk.history_file
    target.parent.mkdir()
    runs.write_history(source, target)
    if damage == "not JSON":
        target.write_text(target.read_text()[:40])
    else:
        target.write_text(target.read_text().replace(rk.key, "f" * 16))
    assert history_only(tmp_path / "reader").origin == "trained"
    assert f"the saved history {target} cannot be used" in capsys.readouterr().out


def test_cifar10s_jpeg_copy_is_downloaded_from_the_release_and_checked(server, tmp_path,
                                                                      monkeypatch):
    folder, url = server
    shutil.copy(datafiles.CIFAR_SUBSET, folder / datafiles.CIFAR_JPEG_ARCHIVE)  # a stand-in archive
    blob = (folder / datafiles.CIFAR_JPEG_ARCHIVE).read_bytes()
    entry = {"file": datafiles.CIFAR_JPEG_ARCHIVE, "bytes": len(blob),
             "sha256": hashlib.sha256(blob).hexdigest()}
    manifest = tmp_path / "published.json"
    manifest.write_text(json.dumps({"url": url, "runs": [], "data": [entry]}))
    monkeypatch.setenv(datafiles.PUBLISHED_ENV, str(manifest))
    monkeypatch.setenv(datafiles.DATA_ENV, str(tmp_path / "downloads"))
    got = datafiles.download_published(datafiles.CIFAR_JPEG_ARCHIVE)
    assert got == tmp_path / "downloads" / datafiles.CIFAR_JPEG_ARCHIVE and got.read_bytes() == blob
    got.unlink()
    manifest.write_text(json.dumps({"url": url, "runs": [], "data": [{**entry, "sha256": "0" * 64}]}))
    assert datafiles.download_published(datafiles.CIFAR_JPEG_ARCHIVE) is None   # hash refused
    assert not got.exists()


def test_the_code_part_of_the_key_is_the_same_under_every_python_version():
    """Colab runs another Python than the book was executed with: the normalised source of the
    book's model functions must not depend on the version (ast.unparse's output does)."""
    import glob
    import inspect
    import pathlib
    import subprocess
    import sys
    script = "\n".join([
        "import ast, hashlib, io, sys, textwrap, tokenize",
        inspect.getsource(runs._normalise),
        "text = open(sys.argv[1]).read()",
        "h = hashlib.sha256()",
        "for node in ast.walk(ast.parse(text)):",
        "    if isinstance(node, ast.FunctionDef):",
        "        h.update(_normalise(ast.get_source_segment(text, node)).encode())",
        "print(h.hexdigest())"])
    source = str(pathlib.Path(models.__file__))
    interpreters = sorted(set(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[0-9]*/bin/python"))))
    if not interpreters:
        pytest.skip("no other Python interpreter on this machine")
    here = subprocess.run([sys.executable, "-c", script, source], capture_output=True, text=True,
                          check=True).stdout
    for python in interpreters:
        there = subprocess.run([python, "-c", script, source], capture_output=True, text=True)
        assert there.returncode == 0, there.stderr
        assert there.stdout == here, python


def test_a_source_file_edited_after_import_is_refused_not_keyed_wrongly(tmp_path, monkeypatch):
    """inspect reads a method's text from the file as it is now; lines added above the class
    after import would make the key describe other code (this happened to a long training
    process while helpers/models was edited): the store refuses instead."""
    import importlib
    import linecache

    module = tmp_path / "edited_net.py"
    module.write_text("from torch import nn\n\n\nclass Net(nn.Module):\n"
                      "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 2)\n\n"
                      "    def forward(self, x):\n        return self.fc(x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    net = importlib.import_module("edited_net").Net()
    before = runs._code_hash(net)
    module.write_text("# three lines\n# added above\n# the class\n" + module.read_text())
    linecache.checkcache()
    with pytest.raises(runs.SourceChanged, match="changed after it was imported.*restart"):
        runs._code_hash(net)
    assert before == runs._code_hash(importlib.reload(importlib.import_module("edited_net")).Net())
