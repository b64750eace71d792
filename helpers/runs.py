"""The run store: train a network once, then load it; and the book's published runs.

    model, history = runs.fit_or_load("lenet", models.LeNet, train_split, val_split,
                                      train.Recipe(epochs=5, lr=2e-3))

`fit_or_load` looks for the run in three places, in order, and prints one
line saying which one answered:

1. the local store (`artifacts/`, or the folder CNN_BOOK_STORE names);
2. the runs published with the book: `helpers/published.json` lists each
   run's key, file, size and SHA-256 (`datafiles.published()` reads it); the file is downloaded once from the
   book's release into the local store with `torch.hub.download_url_to_file`,
   its hash checked, then loaded;
3. otherwise it trains (`train.fit`) and saves the run in the local store.

`fit_or_load_history` answers with the History alone, for a chapter that
needs a run's numbers and not its network (an ablation's accuracies): it
downloads the run's published history, a few kilobytes, instead of its
weights, megabytes. `retrain=True` or CNN_BOOK_RETRAIN=1 always trains. A
file that cannot be used (damaged, tampered with, another run's) is named
in one line, and training goes on.

The key. A run is looked up by a key that hashes everything that decides what
it learns, each part separately so that a mismatch can say what differs:

- architecture: every module's class and constructor settings (kernel sizes,
  strides, dropout rates...);
- code: the source of every module class that is not torch's own (the book's
  `helpers.models` and whatever a reader defines in a notebook), docstrings
  and comments left out, so an edited `forward` trains anew. `__init__` is
  left out too: what it builds is in the architecture (which also records the
  plain values such a class stores) and in the starting weights, so a clearer
  check of its arguments keeps the runs;
- weights: the starting weights that build() makes after seeding with the
  recipe's seed (fine-tuning from other starting weights trains anew). Weights
  that build() computes from the training data instead are named, with how they
  are computed, in the build function's `derived_from_data` attribute
  ({name: description}); the key holds that description, not their values,
  whose last bits depend on the thread count (an eigenvector's sign can flip)
  while the data and the code that decide them are in the key already;
- train / eval: the exact images, labels and normalisation of both splits;
- recipe: the normalised `train.Recipe` (0 and 0.0 are one number).

The device, the number of threads, the memory format and the torch version
are not in the key: a run published from a CPU loads on a reader's GPU.
Runs are keyed by their exact data, so a published run fits only the data
the book was executed on. For CIFAR-10 that is the JPEG copy; the release
publishes that copy too, and a reader without CIFAR-10 on disk (Colab)
downloads it (helpers.datafiles), so the published runs load there. A reader
with the original CIFAR-10 files trains on them instead, and the line printed
says the published run was made with other data.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import inspect
import io
import json
import os
import pathlib
import re
import tempfile
import textwrap
import tokenize
import urllib.error
from collections.abc import Callable

import torch
from torch import nn

from helpers import datafiles, repro, train
from helpers.data import Split

STORE_ENV = "CNN_BOOK_STORE"
RETRAIN_ENV = "CNN_BOOK_RETRAIN"
RUN_LOG_ENV = "CNN_BOOK_RUN_LOG"
STORE = pathlib.Path(__file__).resolve().parents[1] / "artifacts"
FORMAT = 1
HISTORY_SUFFIX = ".history.json"
PARTS = ("architecture", "code", "weights", "train", "eval", "recipe")
_SAID = {"architecture": "architecture", "code": "model code", "weights": "starting weights",
         "train": "training data", "eval": "validation data", "recipe": "recipe"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,99}")


# --------------------------------------------------------------------------- the key


@dataclasses.dataclass(frozen=True)
class RunKey:
    """A run's name and the hashes of what decides it; `key` hashes them all."""

    name: str
    parts: dict

    @property
    def key(self) -> str:
        return _sha(json.dumps(self.parts, sort_keys=True))[:16]

    @property
    def file(self) -> str:
        return f"{self.name}-{self.key}.pt"

    @property
    def history_file(self) -> str:
        """The run's history alone, as published (`write_history`)."""
        return f"{self.name}-{self.key}{HISTORY_SUFFIX}"


def identify(name: str, build: Callable[[], nn.Module], train_data: Split, eval_data: Split,
             recipe: train.Recipe) -> tuple[nn.Module, RunKey]:
    """Build the model (seeded with recipe.seed, on the CPU) and compute its run's key."""
    _check_name(name)
    if isinstance(build, nn.Module) or not callable(build):
        raise TypeError(f"build must be a function that makes a new model, e.g. models.LeNet or "
                        f"lambda: models.LeNet(batch_norm=True); got {type(build).__name__}"
                        + (" (an instance: pass its class, or a lambda that builds it)"
                           if isinstance(build, nn.Module) else ""))
    train.check_split(train_data, "train_data")
    train.check_split(eval_data, "eval_data")
    torch.manual_seed(recipe.seed)  # the starting weights depend on the seed too
    model = build()
    if not isinstance(model, nn.Module):
        raise TypeError(f"build() must return an nn.Module, but it returned {model!r}")
    parts = {"architecture": _sha(json.dumps(architecture(model), sort_keys=True)),
             "code": _code_hash(model),
             "weights": _weights_hash(model, getattr(build, "derived_from_data", None)),
             "train": fingerprint(train_data),
             "eval": fingerprint(eval_data),
             "recipe": _sha(json.dumps(recipe.key_dict(), sort_keys=True))}
    return model, RunKey(name, {k: v[:16] for k, v in parts.items()})


def architecture(model: nn.Module) -> list:
    """[path, class, {setting: value}] for every module, e.g. a Conv2d's stride.

    A torch layer's settings are its attributes named like its constructor's
    arguments, which is how torch's layers store them (not their printed form,
    which may change between torch versions). A module the book or a reader
    wrote also gives every plain value its `__init__` stored (numbers, strings,
    tuples of them): with the layers and the starting weights, that is what
    `__init__` decides, so its source is not part of the code hash. A module
    with frozen parameters (requires_grad=False) lists their names.
    """
    rows = []
    for path, m in model.named_modules():
        try:
            params = inspect.signature(type(m).__init__).parameters
        except (TypeError, ValueError):
            params = {}
        names = {p for p in params if p != "self" and hasattr(m, p)}
        if not _from_library(type(m)):
            names |= {a for a in vars(m) if not a.startswith("_") and a != "training"}
        settings = {p: _plain(getattr(m, p)) for p in sorted(names)
                    if _plain(getattr(m, p)) is not _SKIP}
        frozen = sorted(n for n, w in m.named_parameters(recurse=False) if not w.requires_grad)
        if frozen:
            settings["frozen"] = frozen
        rows.append([path, type(m).__qualname__, settings])
    return rows


_SKIP = object()


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)) and all(_plain(v) is not _SKIP for v in value):
        return [_plain(v) for v in value]
    return _SKIP  # tensors, modules, functions: covered by the weights, the tree and the code


def _code_hash(model: nn.Module) -> str:
    """Hash the source of every class in the model that is not torch's, by its name (not its
    module: moving a class to another file keeps its runs)."""
    sources = sorted((c.__qualname__, _class_source(c)) for m in model.modules()
                     for c in type(m).__mro__ if not _from_library(c))
    h = hashlib.sha256()
    for qualname, source in dict.fromkeys(sources):
        h.update(f"{qualname}\n{source}\n".encode())
    return h.hexdigest()


def _from_library(cls: type) -> bool:
    return cls is object or (cls.__module__ or "").split(".")[0] in ("torch", "torchvision")


def _class_source(cls: type) -> str:
    """The source of the class's functions but `__init__` (the architecture and the starting
    weights record what it builds) and its plain class attributes, docstrings, comments
    and blank lines left out. Function by function, because Python cannot find the source of
    a whole class typed into a notebook; the text itself, because its parsed form (ast.unparse)
    differs between Python versions, and a Colab reader's key must match the book's."""
    pieces = []
    for attr, value in sorted(vars(cls).items()):
        if attr == "__init__":
            continue
        func = getattr(value, "fget", None) or getattr(value, "__func__", None) or value
        if inspect.isfunction(func):
            try:
                text = inspect.getsource(func)
            except (OSError, TypeError):  # made by exec() without a file: no text to read
                pieces.append(f"{attr}: {func.__code__.co_code.hex()}")
                continue
            _check_unchanged(cls, func, text)
            pieces.append(_normalise(text))
        elif not attr.startswith("__") and _plain(value) is not _SKIP:
            pieces.append(f"{attr} = {_plain(value)!r}")
    return "\n".join(pieces)


class SourceChanged(RuntimeError):
    """A model's source file was edited after Python imported it: the key would not be its code's."""


def _check_unchanged(cls: type, func, text: str) -> None:
    """inspect reads a function's text from its file *now*, at the line where it began when the
    file was imported. If the file was edited since (lines added above it), that text is another
    function's, and the key would describe code that is not running: refuse, and say why."""
    if func.__name__ == "<lambda>":
        return
    try:
        first = ast.parse(textwrap.dedent(text)).body[0]
    except SyntaxError:
        first = None
    if not (isinstance(first, (ast.FunctionDef, ast.AsyncFunctionDef)) and first.name == func.__name__):
        raise SourceChanged(
            f"{cls.__qualname__}.{func.__name__}: {inspect.getsourcefile(func)} changed after it was "
            f"imported, so the run store cannot read the code that is running; restart the kernel "
            f"(or Python) and run again")


def _normalise(source: str) -> str:
    """`source` without comments, docstrings, blank lines and trailing spaces."""
    source = textwrap.dedent(source)
    lines = source.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col]
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            for row in range(body[0].lineno - 1, body[0].end_lineno):
                lines[row] = ""
    return "\n".join(line.rstrip() for line in lines if line.strip())


def _tensors_hash(state: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().to("cpu").contiguous()
        h.update(f"{name} {t.dtype} {tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _weights_hash(model: nn.Module, derived: dict | None) -> str:
    """The starting weights' hash; those in `derived` ({name: how build() computes them from
    the training data}) count by that description, not by their values."""
    state = model.state_dict()
    if derived is None:
        return _tensors_hash(state)
    if not (isinstance(derived, dict) and derived
            and all(isinstance(v, str) for v in derived.values())):
        raise TypeError(f"build.derived_from_data must map weight names to descriptions, got "
                        f"{derived!r}")
    unknown = sorted(set(derived) - set(state))
    if unknown:
        raise ValueError(f"build.derived_from_data names weights the model does not have: "
                         f"{', '.join(unknown)}")
    kept = _tensors_hash({k: v for k, v in state.items() if k not in derived})
    return _sha(kept + json.dumps(derived, sort_keys=True))


def fingerprint(split: Split) -> str:
    """A hash of a split's images, labels and normalisation (changes when the data does)."""
    h = hashlib.sha256()
    h.update(_tensors_hash({"images": split.images, "labels": split.labels}).encode())
    h.update(repr((tuple(map(float, split.mean)), tuple(map(float, split.std)))).encode())
    return h.hexdigest()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- load or train


def fit_or_load(name: str, build: Callable[[], nn.Module], train_data: Split, eval_data: Split,
                recipe: train.Recipe | None = None, *, retrain: bool | None = None,
                store: str | os.PathLike | None = None, device: torch.device | str | None = None,
                eval_batch_size: int = train.EVAL_BATCH, progress: bool | None = None,
                quiet: bool = False, **changes) -> tuple[nn.Module, train.History]:
    """The trained model and its History: loaded from the store or the published runs, or trained.

    `build` makes a fresh model (a class or a lambda); `recipe` and keyword
    `changes` are fit's. `name` is a plain file name stem (letters, digits,
    . _ + = -, at most 100 characters). Every argument is checked, and the
    store is checked for writing, before anything trains. Unless quiet=True,
    one line says where the run came from and how long its training took.
    """
    return _find_or_train(name, build, train_data, eval_data, train.as_recipe(recipe, changes),
                          retrain, store, device, eval_batch_size, progress, quiet, weights=True)


def fit_or_load_history(name: str, build: Callable[[], nn.Module], train_data: Split,
                        eval_data: Split, recipe: train.Recipe | None = None, *,
                        retrain: bool | None = None, store: str | os.PathLike | None = None,
                        device: torch.device | str | None = None,
                        eval_batch_size: int = train.EVAL_BATCH, progress: bool | None = None,
                        quiet: bool = False, **changes) -> train.History:
    """The History that fit_or_load(...) would return with the same arguments, without the model.

    For a chapter that needs only a run's numbers. It looks in the local store
    (the whole run, or its history alone), then in the published runs, where it
    downloads only the history (a few kilobytes; the weights are megabytes),
    and otherwise trains and saves the whole run, as fit_or_load does.
    """
    return _find_or_train(name, build, train_data, eval_data, train.as_recipe(recipe, changes),
                          retrain, store, device, eval_batch_size, progress, quiet,
                          weights=False)[1]


def _find_or_train(name, build, train_data, eval_data, recipe, retrain, store, device,
                   eval_batch_size, progress, quiet, weights: bool):
    """fit_or_load's lookup; weights=False also accepts the history alone (a history file)."""
    retrain = repro.env_flag(RETRAIN_ENV) if retrain is None else retrain
    device = repro.pick_device(device)
    model, rk = identify(name, build, train_data, eval_data, recipe)
    folder = store_folder(store)
    path = folder / rk.file
    say = (lambda line: None) if quiet else print
    if not retrain:
        found = _from_store(path, model, rk, say)
        if found is None and not weights:
            found = _history_from_store(folder / rk.history_file, rk, say)
        if found is None:
            found = _from_published(path, model, rk, say, history_only=not weights)
        if found is not None:
            _log(rk, found.origin)
            say(_report(rk, found))
            return model.to(device), found
    _check_writable(folder)  # never train for minutes, then fail to save
    history = train.fit(model, train_data, eval_data, recipe, device=device,
                        eval_batch_size=eval_batch_size, progress=progress)
    save(path, model, history, rk)
    _log(rk, "trained")
    say(_report(rk, history))
    return model, history


def locate(name: str, build: Callable[[], nn.Module], train_data: Split, eval_data: Split,
           recipe: train.Recipe | None = None, *, store: str | os.PathLike | None = None,
           **changes) -> pathlib.Path:
    """Where fit_or_load keeps the run these arguments describe; nothing is trained or read."""
    _, rk = identify(name, build, train_data, eval_data, train.as_recipe(recipe, changes))
    return store_folder(store) / rk.file


def store_folder(store: str | os.PathLike | None = None) -> pathlib.Path:
    """The local store: `store`, else CNN_BOOK_STORE, else artifacts/ beside helpers/."""
    if store is not None:
        return pathlib.Path(store)
    return pathlib.Path(repro.setting(STORE_ENV) or STORE)


def _report(rk: RunKey, history: train.History) -> str:
    s = history.train_seconds
    took = (f"{s:.1f} s" if s < 10 else f"{s:,.0f} s") + (
        f" ({history.recipe.epochs:g} epoch{'s' * (history.recipe.epochs != 1)} on {history.device}, "
        f"{history.threads} thread{'s' * (history.threads != 1)})")
    if history.origin == "trained":
        return f"{rk.name}: trained now in {took}; saved in the local store"
    where = {"store": "loaded from the local store",
             "published": "downloaded the published run (SHA-256 checked)",
             "published history": "downloaded the published run's history, without its weights "
                                  "(SHA-256 checked)"}[history.origin]
    return f"{rk.name}: {where}; training it took {took}; retrain=True trains it again"


class RunFileError(ValueError):
    """A saved run's file cannot be used: damaged, tampered with, or another run's."""


def _from_store(path, model, rk, say) -> train.History | None:
    if not path.exists():
        return None
    if not os.access(path, os.R_OK):
        say(f"{rk.name}: the saved run {path} is not readable by this user (its permissions); "
            f"training it again")
        return None
    try:
        return load(path, model, rk, origin="store")
    except RunFileError as exc:
        say(f"{rk.name}: the saved run {path} cannot be used ({exc}); training it again")
        return None


def save(path: pathlib.Path, model: nn.Module, history: train.History, rk: RunKey) -> None:
    """Write the run atomically (a temporary file, then a rename), readable by every user.

    A run whose weights or last loss are not finite is refused (TrainingDiverged).
    """
    train.check_finite(model, "at the end of training")
    if not all(map(_finite, (history.final.train_loss, history.final.eval_loss))):
        raise train.TrainingDiverged(f"{rk.name}: the last loss is not finite; the run is not kept")
    payload = {"format": FORMAT, "name": rk.name, "key": rk.key, "parts": json.dumps(rk.parts),
               "history": json.dumps(history.to_dict()),
               "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    _remove_abandoned(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-{os.getpid()}-",
                               suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a store is shared
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: pathlib.Path) -> dict:
    """A saved run's contents, or RunFileError."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's own message would suggest unsafe loading
        raise RunFileError(f"not a readable PyTorch file, perhaps truncated or overwritten "
                           f"({type(exc).__name__})") from None


def _checked_history(saved, rk: RunKey | None, origin: str) -> train.History:
    """The History in a saved run or history file, after checking its format and key."""
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise RunFileError("it does not hold a run saved by this version of helpers.runs")
    if rk is not None and saved.get("key") != rk.key:
        raise RunFileError(f"it holds the run with key {saved.get('key')!r}, not {rk.key!r}")
    try:
        history = saved["history"]
        history = train.History.from_dict(json.loads(history) if isinstance(history, str)
                                          else history, origin=origin)
        history.final  # noqa: B018 (raises if there are no epochs)
    except Exception as exc:
        raise RunFileError(f"its training history is unreadable ({type(exc).__name__})") from None
    return history


def load(path: pathlib.Path, model: nn.Module, rk: RunKey, origin: str) -> train.History:
    """Read the run in `path` into `model` and return its History, or raise RunFileError."""
    saved = _read(path)
    history = _checked_history(saved, rk, origin)
    try:
        model.load_state_dict(saved["model"])
        train.check_finite(model, "in the saved run")
    except Exception as exc:
        raise RunFileError(f"its weights do not fit this model or are not finite "
                           f"({type(exc).__name__})") from None
    return history


def write_history(run: pathlib.Path, target: pathlib.Path) -> None:
    """Write the history of the saved run in `run` alone, as JSON (what publishing serves to
    fit_or_load_history); RunFileError if `run` cannot be read."""
    saved = _read(run)
    history = _checked_history(saved, None, "store")
    target.write_text(json.dumps({"format": FORMAT, "name": saved["name"], "key": saved["key"],
                                  "parts": json.loads(saved["parts"]),
                                  "history": history.to_dict()}, indent=0) + "\n")


def read_history(path: pathlib.Path, rk: RunKey, origin: str = "store") -> train.History:
    """The History in a history file (`write_history`) of the run `rk`, or RunFileError."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunFileError(f"not a readable history file, perhaps truncated ({type(exc).__name__})") \
            from None
    return _checked_history(saved, rk, origin)


def _history_from_store(path, rk, say) -> train.History | None:
    if not path.exists():
        return None
    try:
        return read_history(path, rk)
    except RunFileError as exc:
        say(f"{rk.name}: the saved history {path} cannot be used ({exc}); looking further")
        return None


def _finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")


def _check_name(name) -> None:
    """`name` becomes part of a file name: refuse anything that is not a plain stem."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"the run's name must be a plain file name stem such as 'lenet' (letters, "
                         f"digits and . _ + = -, at most 100 characters; no folders: pass store= "
                         f"for where to save), got {name!r}")


def _check_writable(folder: pathlib.Path) -> None:
    """Create `folder` if needed and prove a file can be written there, or raise naming it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        kind = type(exc) if type(exc) is not OSError else PermissionError
        raise kind(f"the run store cannot save trained models in {folder} "
                   f"({exc.strerror or exc}); nothing was trained. Pass store= a folder you can "
                   f"write to, or set {STORE_ENV}") from exc


def _remove_abandoned(path: pathlib.Path) -> None:
    """Delete temporary files of this run left by a writer that died (its process is gone)."""
    for tmp in path.parent.glob(f".{path.stem}-*-*.tmp"):
        pid = tmp.name[len(path.stem) + 2:].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _log(rk: RunKey, origin: str) -> None:
    """Append the run to the file CNN_BOOK_RUN_LOG names (tools.notebooks execute sets it)."""
    log = repro.setting(RUN_LOG_ENV)
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"name": rk.name, "key": rk.key, "file": rk.file,
                                "parts": rk.parts, "origin": origin}) + "\n")


# --------------------------------------------------------------------------- published runs


def _from_published(path, model, rk, say, history_only: bool = False) -> train.History | None:
    """The published run (downloaded into the store at `path`), or with history_only=True and a
    history published, only its history (into the store beside `path`); None if neither."""
    published = datafiles.published()
    entry = next((r for r in published["runs"] if r["key"] == rk.key), None)
    if entry is None:
        same_name = [r for r in published["runs"] if r["name"] == rk.name]
        if same_name:
            differ = [p for p in PARTS if same_name[0]["parts"].get(p) != rk.parts[p]]
            say(f"{rk.name}: the published run of this name was made with other "
                f"{', '.join(_SAID[p] for p in differ)}; training this one")
        return None
    if datafiles.offline():
        say(f"{rk.name}: a published run exists, but {datafiles.OFFLINE_ENV} is set; training it")
        return None
    if history_only and "history" in entry:
        entry, path = entry["history"], path.parent / rk.history_file
        read = lambda tmp: read_history(tmp, rk, origin="published history")  # noqa: E731
    else:
        read = lambda tmp: load(tmp, model, rk, origin="published")  # noqa: E731
    url = published["url"] + entry["file"]
    _check_writable(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-{os.getpid()}-",
                               suffix=".tmp")
    os.close(fd)
    try:
        torch.hub.download_url_to_file(url, tmp, hash_prefix=entry["sha256"], progress=False)
        history = read(pathlib.Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        return history
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        say(f"{rk.name}: the published run could not be downloaded from {url} ({reason}); "
            f"training it")
    except RuntimeError as exc:  # torch.hub: the SHA-256 differs
        say(f"{rk.name}: the file downloaded from {url} is refused: its SHA-256 is not the "
            f"manifest's ({str(exc).splitlines()[0]}); training it")
    except RunFileError as exc:
        say(f"{rk.name}: the file downloaded from {url} is refused ({exc}); training it")
    finally:
        pathlib.Path(tmp).unlink(missing_ok=True)
    return None
