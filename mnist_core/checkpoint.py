"""One file per checkpoint: model, optimizer, config, history, progress and RNG state.

Files are written atomically. Reading treats every file as hostile and checks each claim it makes
before anything is built, expanded or copied from that claim:

1. the container: torch.save's zip of stored (uncompressed) entries, at most MAX_CHECKPOINT_BYTES in all;
2. the pickle, opcode by opcode without running it: how many values and containers it would build, so
   a list claiming millions of points is refused before it exists;
3. ``torch.load(weights_only=True)``, which on torch >= 2.10 refuses pickled code. Every tensor it makes
   is a view of bytes read from the file: nothing is expanded yet;
4. every tensor: dense, on a storage of its own, claiming exactly the bytes stored (a tensor claiming
   250 million elements over one stored number is refused here); then each against the shape and dtype
   the network expects (weights, optimizer buffers, RNG states);
5. every list against its length limit, then its items.

Anything else that goes wrong while reading is still a bad file: ``load_checkpoint`` raises only
CheckpointError, and a refused file changes nothing.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import pickletools
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO, Mapping, Sequence, Union

import torch

from .training.config import TrainConfig
from .training.engine import History, TrainingState, make_optimizer
from .training.history import downsample_min_max
from .network.tutorial import TUTORIAL_SPEC
from .network.spec import NetSpec, SpecError, build_model, check_spec, expected_state_shapes
from .training.recipe import Recipe

FORMAT = "mnist_core.checkpoint"
VERSION = 1
MAX_CHECKPOINT_BYTES = 20 * 1024 * 1024  # a real checkpoint is well under 1 MB
DEFAULT_CHECKPOINT_DIR = Path("checkpoints")  # relative to the working folder; the drawing page lists it
CHECKPOINT_SUFFIX = ".pt"
REQUIRED_KEYS = {"format", "version", "model_state", "optimizer_state", "config", "history",
                 "epochs_done", "examples_seen", "rng"}
# Points per history list: 16 epochs of full MNIST logged after every batch of one. Pickled, a list this
# long takes about 9 MB, so a file within MAX_CHECKPOINT_BYTES can hold the two longest lists.
MAX_HISTORY_POINTS = 1_000_000
MAX_SAVED_TRAIN_POINTS = 200_000  # about 3 MB in the file; longer train-loss curves are thinned on saving
# Pickle opcodes: each builds at most one value (a number, a string, a reference), about 36 bytes at
# worst, so this caps what unpickling can cost at about 80 MB: the two longest history lists, plus room.
MAX_PICKLE_OPCODES = 2 * MAX_HISTORY_POINTS + 100_000
# Containers (dicts, lists, tuples, tensors, memo entries) cost more, 60-200 bytes each; a checkpoint of
# a 24-layer net with Adam's state builds a few thousand.
MAX_PICKLE_CONTAINERS = 50_000
PICKLE_PROTOCOL = 2  # what torch.save writes, in every version that writes zip files
_CONTAINER_OPCODES = frozenset({
    "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "EMPTY_SET", "DICT", "LIST", "TUPLE", "TUPLE1", "TUPLE2",
    "TUPLE3", "FROZENSET", "REDUCE", "NEWOBJ", "NEWOBJ_EX", "BUILD", "BINPERSID", "PERSID", "GLOBAL",
    "STACK_GLOBAL", "INST", "OBJ", "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE",
})
# Optimizer state entries that are one number for the whole parameter (Adam's step count); every other
# tensor in an optimizer's state has its parameter's shape (momentum, Adam's averages).
SCALAR_OPTIMIZER_STATE = frozenset({"step"})
# History lists: (kind of number, lowest, highest) per list.
HISTORY_RULES = {
    "train_losses": (float, 0, None),
    "train_counter": (int, 0, None),
    "test_losses": (float, 0, None),
    "test_counter": (int, 0, None),
    "test_accuracy": (float, 0, 1),
    "resume_points": (int, 0, None),
    "stop_points": (int, 0, None),  # absent from older files: derived (_mark_legacy_stop)
}
SHOWN_KEYS = 8  # of a mismatched state_dict, list this many keys in a message

Source = Union[str, os.PathLike, bytes, BinaryIO]
TensorSpec = tuple[torch.Size, torch.dtype]  # what a tensor must be: shape and dtype (as expected_state_shapes gives)


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint of this network, with the reason."""


def checkpoint_dict(state: TrainingState) -> dict:
    """A copy of everything in ``state`` (never views of live tensors), ready for torch.save."""
    rng = {"shuffle": state.shuffle_generator.get_state()}
    if state.torch_rng_state is not None:
        rng["torch"] = state.torch_rng_state.clone()
    return {
        "format": FORMAT,
        "version": VERSION,
        "model_state": _to_cpu(state.model.state_dict()),
        "optimizer_state": _to_cpu(state.optimizer.state_dict()),
        "config": state.config.to_dict(),
        "history": _saved_history(state.history),
        "epochs_done": state.epochs_done,
        "examples_seen": state.examples_seen,
        "rng": rng,
        "spec": state.spec.to_dict(),  # optional on reading: files from before the network lab hold the tutorial's
        "recipe": state.recipe.to_dict(),
    }


def _saved_history(history: History) -> dict[str, list]:
    """The history as plain lists, the train-loss curve cut to MAX_SAVED_TRAIN_POINTS (each bucket's lowest and
    highest loss kept, as the live chart does) so that long runs (batch size 1, every batch logged) still save
    well under the file and history limits. The history in memory keeps every point."""
    values = history.to_dict()
    if len(values["train_losses"]) > MAX_SAVED_TRAIN_POINTS:
        counter, losses = downsample_min_max(history.train_counter.to_numpy(), history.train_losses.to_numpy(),
                                             MAX_SAVED_TRAIN_POINTS)
        values["train_counter"], values["train_losses"] = counter.tolist(), losses.tolist()
    return values


def checkpoint_bytes(state: TrainingState) -> bytes:
    buffer = io.BytesIO()
    torch.save(checkpoint_dict(state), buffer)
    return buffer.getvalue()


def save_checkpoint(state: TrainingState, path: str | os.PathLike) -> Path:
    """Write atomically: a temporary file in the same folder, then a rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = checkpoint_bytes(state)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(payload)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _read_bytes(source: Source) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source), "the uploaded file"
    if hasattr(source, "read"):
        name = str(getattr(source, "name", "the uploaded file"))
        try:
            data = source.read(MAX_CHECKPOINT_BYTES + 1)
        except (OSError, ValueError) as exc:  # a closed or unreadable stream
            raise CheckpointError(f"{name}: cannot be read ({exc}).") from exc
        if not isinstance(data, bytes):
            raise CheckpointError(f"{name}: cannot be read (a text stream, not bytes).")
        return data, name
    path = Path(source)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder; give the path of a checkpoint file inside it.")
    try:
        size = path.stat().st_size
        if size > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(_too_big(str(path), size))
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc


def _too_big(name: str, size: int) -> str:
    return f"{name} is {size / 1e6:.1f} MB; a checkpoint of this network is under 1 MB (limit {MAX_CHECKPOINT_BYTES // 2**20} MB)."


def load_checkpoint(source: Source, device: torch.device | str = "cpu") -> TrainingState:
    """Read and validate a checkpoint; raise CheckpointError (and nothing else) if it is unusable."""
    data, name = _read_bytes(source)
    try:
        return _load(data, name, torch.device(device))
    except CheckpointError:
        raise
    except Exception as exc:  # any other oddity in a crafted file is still just a bad file
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise CheckpointError(f"{name} is not a usable checkpoint ({type(exc).__name__}: {detail}).") from exc


def _load(data: bytes, name: str, device: torch.device) -> TrainingState:
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(_too_big(name, len(data)))
    _check_pickle_size(_check_container(data, name), name)
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower():  # the safe unpickler met a class or function reference
            raise CheckpointError(
                f"{name} was refused: it holds Python objects other than tensors and plain data, "
                "which could run code. Only checkpoints saved by this app can be loaded."
            ) from exc
        raise CheckpointError(f"{name} is not a readable PyTorch checkpoint (damaged, or another format).") from exc
    except Exception as exc:  # truncated zip, random bytes, ...
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{name} is not a readable PyTorch checkpoint ({detail}).") from exc
    _check_every_tensor_owns_its_bytes(payload, name)
    return _state_from_payload(payload, name, device)


# --- 1. the container and 2. the pickle, before torch.load ---------------------------------------------

def _check_container(data: bytes, name: str) -> list[bytes]:
    """torch.save's zip, with stored (uncompressed) entries adding up to no more than the file limit.
    Returns the pickles in it.

    Without this, a small file of compressed entries could make torch.load allocate gigabytes.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if any(entry.compress_type != zipfile.ZIP_STORED for entry in entries):
                raise CheckpointError(f"{name} has compressed entries; torch.save never writes those.")
            if sum(entry.file_size for entry in entries) > MAX_CHECKPOINT_BYTES:
                raise CheckpointError(_too_big(name, sum(entry.file_size for entry in entries)))
            return [archive.read(entry) for entry in entries if entry.filename.endswith(".pkl")]
    except CheckpointError:
        raise
    except Exception as exc:  # BadZipFile, a name that is not UTF-8, an unsupported zip feature, ...
        raise CheckpointError(
            f"{name} is not a readable PyTorch checkpoint (not the zip format torch.save writes)."
        ) from exc


def _check_pickle_size(pickles: list[bytes], name: str) -> None:
    """Count what unpickling would build, without building it (pickletools only reads the opcodes); the
    limits hold for all the file's pickles together."""
    opcodes = containers = 0
    try:
        for opcode, argument, _ in (op for pickled in pickles for op in pickletools.genops(pickled)):
            if opcode.name == "PROTO" and argument != PICKLE_PROTOCOL:  # torch.load would only warn, and go on
                raise CheckpointError(f"{name} is not a readable PyTorch checkpoint (pickle protocol {argument}; "
                                      f"torch.save writes {PICKLE_PROTOCOL}).")
            opcodes += 1
            containers += opcode.name in _CONTAINER_OPCODES
            if opcodes > MAX_PICKLE_OPCODES or containers > MAX_PICKLE_CONTAINERS:
                raise CheckpointError(
                    f"{name} holds more values than any checkpoint of this app (over {MAX_PICKLE_OPCODES:,} "
                    f"values or {MAX_PICKLE_CONTAINERS:,} lists and tables; a history holds at most "
                    f"{MAX_HISTORY_POINTS:,} points)."
                )
    except CheckpointError:
        raise
    except Exception as exc:  # an unknown opcode, a truncated argument, text that is not UTF-8
        raise CheckpointError(f"{name} is not a readable PyTorch checkpoint (damaged data: {exc}).") from exc


# --- 4. tensors ---------------------------------------------------------------------------------------

def _owns_exactly_its_bytes(tensor: torch.Tensor) -> bool:
    """A dense CPU tensor that covers its whole storage, each stored element once.

    This is what every tensor torch.save writes from this app is (weights may be channels-last, so any
    order of strides is fine). A view claiming more elements than are stored (a stride of 0, an
    expanded or overlapping tensor) would be expanded by the first copy; a view into a larger storage
    would keep it alive. Both are refused.
    """
    if type(tensor) not in (torch.Tensor, torch.nn.Parameter) or tensor.layout != torch.strided:
        return False
    if tensor.device.type != "cpu" or tensor.is_quantized or tensor.is_nested or tensor.is_conj() or tensor.is_neg():
        return False
    if tensor.storage_offset() != 0:
        return False
    expected_stride = 1
    for size, stride in sorted(zip(tensor.shape, tensor.stride()), key=lambda pair: pair[1]):
        if size == 1:
            continue
        if stride != expected_stride:
            return False
        expected_stride *= size
    return tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()


def _check_every_tensor_owns_its_bytes(payload: object, name: str) -> None:
    """Walk everything torch.load built (its size was bounded by _check_pickle_size) for tensors."""
    pending, seen = [(payload, "the file")], set()
    while pending:
        value, where = pending.pop()
        if isinstance(value, torch.Tensor):
            if not _owns_exactly_its_bytes(value):
                raise CheckpointError(
                    f"{name}: {where} is not a plain tensor of its own: shape {tuple(value.shape)} over "
                    f"{_stored_bytes(value)} stored bytes (a view, an expanded or sparse tensor), which this "
                    "app never saves."
                )
        elif isinstance(value, (dict, list, tuple, set, frozenset)) and id(value) not in seen:
            seen.add(id(value))
            children = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in children:
                if isinstance(key, torch.Tensor):
                    pending.append((key, f"a key in {where}"))
                if isinstance(child, (torch.Tensor, dict, list, tuple, set, frozenset)):
                    pending.append((child, str(key) if where == "the file" else f"{where}.{key}"))


def _stored_bytes(tensor: torch.Tensor) -> str:
    try:
        return f"{tensor.untyped_storage().nbytes():,}"
    except Exception:  # sparse, nested and meta tensors have no plain storage
        return "no"


def _check_tensor(value: object, expected: TensorSpec, name: str, what: str) -> torch.Tensor:
    shape, dtype = expected
    if not isinstance(value, torch.Tensor):
        raise CheckpointError(f"{name} holds a different model: {what} is a {type(value).__name__}, not a tensor.")
    if value.shape != shape:
        raise CheckpointError(f"{name} holds a different model: {what} has shape {tuple(value.shape)}, "
                              f"expected {tuple(shape)}.")
    if value.dtype != dtype or not _owns_exactly_its_bytes(value):
        raise CheckpointError(f"{name}: {what} is not a plain {dtype} tensor of its own (a view, sparse or "
                              "another type), which this app never saves.")
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise CheckpointError(f"{name}: {what} contains NaN or infinite values.")
    return value


def check_model_state(values: object, expected: Mapping[str, TensorSpec], name: str) -> dict[str, torch.Tensor]:
    """The file's model weights, each checked against the network's expected shape and dtype.

    ``expected`` maps every state_dict key to (shape, dtype): ``netspec.expected_state_shapes(spec)``
    for the network the file describes. Raises CheckpointError unless the keys match exactly.
    """
    if not isinstance(values, dict) or set(values) != set(expected):
        found = sorted(map(str, values))[:SHOWN_KEYS] if isinstance(values, dict) else type(values).__name__
        raise CheckpointError(
            f"{name} holds a different model: its layers are {found}, this network's are "
            f"{sorted(expected)[:SHOWN_KEYS]}."
        )
    checked = {}
    for key, spec in expected.items():
        checked[key] = _check_tensor(values[key], spec, name, key)
    return checked


def check_optimizer_state(
    values: object, expected_groups: Sequence[Sequence[TensorSpec]], name: str
) -> list[dict[str, object]]:
    """The file's optimizer state, per parameter in the optimizer's order (an empty dict: no state yet).

    ``expected_groups`` gives (shape, dtype) of each parameter, group by group, as this network's
    optimizer holds them. Any optimizer's state is accepted if every tensor in it has its parameter's
    shape and dtype (SGD's momentum, Adam's exp_avg and exp_avg_sq) or is a scalar step count; the
    hyperparameters in the file's groups are ignored (they come from the config and recipe).
    """
    refuse = CheckpointError(f"{name} has an optimizer state that does not fit this network.")
    if not isinstance(values, dict) or not isinstance(values.get("state"), dict):
        raise refuse
    groups = values.get("param_groups")
    if not isinstance(groups, list) or len(groups) != len(expected_groups):
        raise refuse
    position = {}  # the file's parameter id -> index in the optimizer's order
    for group, expected in zip(groups, expected_groups):
        ids = group.get("params") if isinstance(group, dict) else None
        if not isinstance(ids, list) or len(ids) != len(expected):
            raise refuse
        for parameter_id in ids:
            if type(parameter_id) is not int or parameter_id in position:
                raise refuse
            position[parameter_id] = len(position)
    specs = [spec for expected in expected_groups for spec in expected]
    per_parameter: list[dict[str, object]] = [{} for _ in specs]
    for parameter_id, entries in values["state"].items():
        if parameter_id not in position or type(parameter_id) is not int or not isinstance(entries, dict):
            raise refuse
        index = position[parameter_id]
        for key, value in entries.items():
            per_parameter[index][key] = _checked_optimizer_value(key, value, specs[index], name, index)
    return per_parameter


def _checked_optimizer_value(key: object, value: object, spec: TensorSpec, name: str, index: int) -> object:
    what = f"parameter {index}'s {key!r}" if isinstance(key, str) else f"parameter {index}"
    if not isinstance(key, str):
        raise CheckpointError(f"{name} has an optimizer state that does not fit this network ({what}).")
    if value is None:  # older PyTorch kept momentum_buffer=None with momentum 0
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return value  # a step count as a plain number
    if isinstance(value, torch.Tensor) and key in SCALAR_OPTIMIZER_STATE and value.dim() == 0:
        if _owns_exactly_its_bytes(value) and bool(torch.isfinite(value)) and float(value) >= 0:
            return value
    elif isinstance(value, torch.Tensor) and value.shape == spec[0]:
        return _check_tensor(value, spec, name, f"the optimizer state of {what}")
    raise CheckpointError(f"{name} has an optimizer state that does not fit this network ({what}: "
                          f"{tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__}).")


def _load_optimizer_state(optimizer: torch.optim.Optimizer, values: object, name: str) -> None:
    """The optimizer's buffers from the file (SGD's momentum, Adam's averages and step counts); the
    hyperparameters always come from the config and recipe."""
    expected_groups = [[(p.shape, p.dtype) for p in group["params"]] for group in optimizer.param_groups]
    per_parameter = check_optimizer_state(values, expected_groups, name)
    clean = optimizer.state_dict()  # this optimizer's own groups and settings: a file cannot smuggle in lr=1e9
    ids = [parameter_id for group in clean["param_groups"] for parameter_id in group["params"]]
    clean["state"] = {ids[index]: entries for index, entries in enumerate(per_parameter) if entries}
    optimizer.load_state_dict(clean)


def _check_rng_state(value: object, name: str, what: str) -> torch.Tensor:
    reference = torch.Generator().get_state()
    try:
        return _check_tensor(value, (reference.shape, reference.dtype), name, what)
    except CheckpointError as exc:
        raise CheckpointError(f"{name} has an invalid RNG state ({what}).") from exc


# --- 5. lists -------------------------------------------------------------------------------------------

def _number_list(values: list, kind: type, low: float | None = None, high: float | None = None) -> bool:
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            return False
        if kind is float and not math.isfinite(value):
            return False
        if (low is not None and value < low) or (high is not None and value > high):
            return False
    return True


def _history_from_payload(values: object, name: str) -> History:
    """Each list's type and length first, then its items, and only then the History."""
    if not isinstance(values, dict):
        raise CheckpointError(f"{name} has an invalid history.")
    for column, (kind, low, high) in HISTORY_RULES.items():
        items = values.get(column, [])
        if not isinstance(items, list):
            raise CheckpointError(f"{name} has an invalid history: {column} is a {type(items).__name__}, not a list.")
        if len(items) > MAX_HISTORY_POINTS:
            raise CheckpointError(f"{name} has an invalid history: {column} has {len(items):,} points, "
                                  f"more than the limit of {MAX_HISTORY_POINTS:,}.")
        if not _number_list(items, kind, low, high):
            raise CheckpointError(f"{name} has an invalid history (losses, accuracies and counters must be "
                                  "numbers in range).")
    lengths = {column: len(values.get(column, [])) for column in HISTORY_RULES}
    if not (lengths["train_losses"] == lengths["train_counter"]
            and lengths["test_losses"] == lengths["test_counter"] == lengths["test_accuracy"]):
        raise CheckpointError(f"{name} has an inconsistent history (losses and counters differ in length).")
    try:
        return History.from_dict({column: values.get(column, []) for column in HISTORY_RULES})
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{name} has an invalid history: {exc}") from exc


def _mark_legacy_stop(history: History, saved: dict, examples_seen: int) -> None:
    """A file from before stop_points that was stopped inside an epoch (examples seen past its last test) gets the
    stop point its run would record now, so the table and chart (History.partial_epoch) call that epoch partial as
    the sidebar and Continue (TrainingState.examples_into_epoch) do."""
    tested = history.test_counter
    if "stop_points" not in saved and len(tested) and examples_seen > tested[-1]:
        history.stop_points.append(examples_seen)


# --- the whole file ---------------------------------------------------------------------------------------

def _state_from_payload(payload: object, name: str, device: torch.device) -> TrainingState:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        hint = ""
        if isinstance(payload, dict) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
            hint = " It looks like a bare state_dict; save it with this app or the CLI to include the optimizer and history."
        raise CheckpointError(f"{name} is not a checkpoint of this app.{hint}")
    missing = REQUIRED_KEYS - payload.keys()
    if missing:
        raise CheckpointError(f"{name} is missing {', '.join(sorted(missing))}.")
    version = payload["version"]
    if type(version) is not int or version != VERSION:
        shown = version if type(version) is int else f"a {type(version).__name__}"
        raise CheckpointError(f"{name} has checkpoint version {shown}; this app reads version {VERSION}.")

    spec = _spec_from_payload(payload, name)  # checked, limits included, before any model is built
    model_state = check_model_state(payload["model_state"], expected_state_shapes(spec), name)

    try:
        config = TrainConfig.from_dict(dict(payload["config"]))
        recipe = Recipe.from_dict(dict(payload.get("recipe", {})))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{name} has an invalid training config or recipe: {exc}") from exc
    history = _history_from_payload(payload["history"], name)
    epochs_done, examples_seen = payload["epochs_done"], payload["examples_seen"]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (epochs_done, examples_seen)):
        raise CheckpointError(f"{name} has invalid progress counters.")
    _mark_legacy_stop(history, payload["history"], examples_seen)
    rng = payload["rng"] if isinstance(payload["rng"], dict) else {}
    shuffle_state = _check_rng_state(rng["shuffle"], name, "shuffle") if "shuffle" in rng else None
    torch_rng_state = _check_rng_state(rng["torch"], name, "torch") if rng.get("torch") is not None else None

    with torch.device("meta"):  # no weights initialised (nor the global RNG touched): the file's replace them
        model = build_model(spec)
    model = model.to_empty(device="cpu")
    model.load_state_dict(model_state)
    model = model.to(device)
    try:
        optimizer = make_optimizer(model, config, recipe)
    except ValueError as exc:
        raise CheckpointError(f"{name} has a recipe that does not fit its config: {exc}") from exc
    _load_optimizer_state(optimizer, payload["optimizer_state"], name)

    shuffle_generator = torch.Generator()
    try:
        if shuffle_state is not None:
            shuffle_generator.set_state(shuffle_state)
        if torch_rng_state is not None:
            torch.Generator().set_state(torch_rng_state)  # validates it without touching the global RNG
    except (TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{name} has an invalid RNG state ({exc}).") from exc
    return TrainingState(
        config=config,
        model=model,
        optimizer=optimizer,
        history=history,
        epochs_done=epochs_done,
        examples_seen=examples_seen,
        shuffle_generator=shuffle_generator,
        torch_rng_state=torch_rng_state,
        recipe=recipe,
    )


def _spec_from_payload(payload: dict, name: str) -> NetSpec:
    try:
        spec = NetSpec.from_dict(payload.get("spec", TUTORIAL_SPEC))
        check_spec(spec)
    except SpecError as exc:
        raise CheckpointError(f"{name} describes a network this app refuses: {exc}") from exc
    return spec


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value
