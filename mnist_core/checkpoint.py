"""One file per checkpoint: model, optimizer, config, history, progress and RNG state.

Files are written atomically and read with ``torch.load(weights_only=True)``, which on
torch >= 2.10 refuses pickled code; every key and tensor shape is then checked before
anything is used, so a bad file changes nothing.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO, Union

import torch

from .config import TrainConfig
from .engine import History, TrainingState, make_optimizer
from .model import TUTORIAL_SPEC
from .netspec import NetSpec, SpecError, build_model, check_spec, expected_state_shapes
from .recipe import Recipe

FORMAT = "mnist_core.checkpoint"
VERSION = 1
MAX_CHECKPOINT_BYTES = 20 * 1024 * 1024  # a real checkpoint is well under 1 MB
DEFAULT_CHECKPOINT_DIR = Path("checkpoints")  # relative to the working folder; the drawing page lists it
CHECKPOINT_SUFFIX = ".pt"
REQUIRED_KEYS = {"format", "version", "model_state", "optimizer_state", "config", "history",
                 "epochs_done", "examples_seen", "rng"}

Source = Union[str, os.PathLike, bytes, BinaryIO]


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
        "history": state.history.to_dict(),
        "epochs_done": state.epochs_done,
        "examples_seen": state.examples_seen,
        "rng": rng,
        "spec": state.spec.to_dict(),  # optional on reading: files from before the network lab hold the tutorial's
        "recipe": state.recipe.to_dict(),
    }


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
        data = source.read(MAX_CHECKPOINT_BYTES + 1)
        return data, getattr(source, "name", "the uploaded file")
    path = Path(source)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(_too_big(str(path), size))
    return path.read_bytes(), str(path)


def _too_big(name: str, size: int) -> str:
    return f"{name} is {size / 1e6:.1f} MB; a checkpoint of this network is under 1 MB (limit {MAX_CHECKPOINT_BYTES // 2**20} MB)."


def load_checkpoint(source: Source, device: torch.device | str = "cpu") -> TrainingState:
    """Read and validate a checkpoint; raise CheckpointError with the reason if it is unusable."""
    data, name = _read_bytes(source)
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(_too_big(name, len(data)))
    _check_container(data, name)
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
    try:
        return _state_from_payload(payload, name, torch.device(device))
    except CheckpointError:
        raise
    except Exception as exc:  # any other oddity in a crafted file is still just a bad file
        raise CheckpointError(f"{name} is not a usable checkpoint ({type(exc).__name__}: {exc}).") from exc


def _check_container(data: bytes, name: str) -> None:
    """torch.save's zip, with stored (uncompressed) entries adding up to no more than the file limit.

    Without this, a small file of compressed entries, or a tensor viewing a huge storage, could
    make torch.load allocate gigabytes before any check runs.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise CheckpointError(
            f"{name} is not a readable PyTorch checkpoint (not the zip format torch.save writes)."
        ) from exc
    if any(entry.compress_type != zipfile.ZIP_STORED for entry in entries):
        raise CheckpointError(f"{name} has compressed entries; torch.save never writes those.")
    if sum(entry.file_size for entry in entries) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(_too_big(name, sum(entry.file_size for entry in entries)))


def _plain_tensor(value: object) -> bool:
    """A dense CPU tensor that owns exactly its own elements (no view into a larger storage)."""
    return (
        isinstance(value, torch.Tensor)
        and value.layout == torch.strided
        and value.device.type == "cpu"
        and value.untyped_storage().nbytes() == value.numel() * value.element_size()
    )


def _number_list(values: object, kind: type, low: float | None = None, high: float | None = None) -> bool:
    if not isinstance(values, list):
        return False
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            return False
        if kind is float and not math.isfinite(value):
            return False
        if (low is not None and value < low) or (high is not None and value > high):
            return False
    return True


def _check_history(history: History, name: str) -> None:
    valid = (
        _number_list(history.train_losses, float, 0)
        and _number_list(history.test_losses, float, 0)
        and _number_list(history.test_accuracy, float, 0, 1)
        and _number_list(history.train_counter, int, 0)
        and _number_list(history.test_counter, int, 0)
        and _number_list(history.resume_points, int, 0)
    )
    if not valid:
        raise CheckpointError(f"{name} has an invalid history (losses, accuracies and counters must be numbers in range).")
    if not (len(history.train_losses) == len(history.train_counter)
            and len(history.test_losses) == len(history.test_counter) == len(history.test_accuracy)):
        raise CheckpointError(f"{name} has an inconsistent history (losses and counters differ in length).")


def _load_optimizer_state(optimizer: torch.optim.Optimizer, values: object, model: torch.nn.Module, name: str) -> None:
    """The optimizer's buffers from the file (SGD's momentum, Adam's averages and step counts); the
    hyperparameters always come from the config and recipe."""
    settings = {k: v for k, v in optimizer.param_groups[0].items() if k != "params"}
    try:
        optimizer.load_state_dict(values)
    except Exception as exc:
        raise CheckpointError(f"{name} has an optimizer state that does not fit this network ({exc}).") from exc
    for group in optimizer.param_groups:
        group.update(settings)  # a file must not smuggle in another learning rate, or maximize=True
    for parameter in model.parameters():
        for key, buffer in optimizer.state.get(parameter, {}).items():
            fits = isinstance(buffer, torch.Tensor) and (
                buffer.shape == parameter.shape or (key == "step" and buffer.dim() == 0)
            ) and bool(torch.isfinite(buffer).all())
            if not fits:
                raise CheckpointError(f"{name} has an optimizer state that does not fit this network ({key}).")


def _state_from_payload(payload: object, name: str, device: torch.device) -> TrainingState:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        hint = ""
        if isinstance(payload, dict) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
            hint = " It looks like a bare state_dict; save it with this app or the CLI to include the optimizer and history."
        raise CheckpointError(f"{name} is not a checkpoint of this app.{hint}")
    missing = REQUIRED_KEYS - payload.keys()
    if missing:
        raise CheckpointError(f"{name} is missing {', '.join(sorted(missing))}.")
    if type(payload["version"]) is not int or payload["version"] != VERSION:
        raise CheckpointError(f"{name} has checkpoint version {payload['version']!r}; this app reads version {VERSION}.")

    spec = _spec_from_payload(payload, name)  # checked, limits included, before any model is built
    model_state = payload["model_state"]
    expected = expected_state_shapes(spec)
    if not isinstance(model_state, dict) or set(model_state) != set(expected):
        found = sorted(map(str, model_state)) if isinstance(model_state, dict) else type(model_state).__name__
        raise CheckpointError(
            f"{name} holds a different model: its layers are {found}, this network's are {sorted(expected)}."
        )
    for key, (expected_shape, expected_dtype) in expected.items():
        value = model_state[key]
        if isinstance(value, torch.Tensor) and value.shape == expected_shape and not (
            _plain_tensor(value) and value.dtype == expected_dtype
        ):
            raise CheckpointError(f"{name}: {key} is not a plain {expected_dtype} tensor of its own (a view, sparse or "
                                  "another type), which this app never saves.")
        if not isinstance(value, torch.Tensor) or value.shape != expected_shape:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise CheckpointError(f"{name} holds a different model: {key} has shape {shape}, expected {tuple(expected_shape)}.")
        if not torch.isfinite(value).all():
            raise CheckpointError(f"{name}: {key} contains NaN or infinite weights.")

    try:
        config = TrainConfig.from_dict(dict(payload["config"]))
        recipe = Recipe.from_dict(dict(payload.get("recipe", {})))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{name} has an invalid training config or recipe: {exc}") from exc
    history_values = payload["history"]
    if not isinstance(history_values, dict):
        raise CheckpointError(f"{name} has an invalid history.")
    try:
        history = History.from_dict(history_values)
    except TypeError as exc:
        raise CheckpointError(f"{name} has an invalid history: {exc}") from exc
    _check_history(history, name)
    epochs_done, examples_seen = payload["epochs_done"], payload["examples_seen"]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (epochs_done, examples_seen)):
        raise CheckpointError(f"{name} has invalid progress counters.")

    with torch.device("meta"):  # no weights initialised (nor the global RNG touched): the file's replace them
        model = build_model(spec)
    model = model.to_empty(device="cpu")
    model.load_state_dict(model_state)
    model = model.to(device)
    try:
        optimizer = make_optimizer(model, config, recipe)
    except ValueError as exc:
        raise CheckpointError(f"{name} has a recipe that does not fit its config: {exc}") from exc
    _load_optimizer_state(optimizer, payload["optimizer_state"], model, name)

    rng = payload["rng"] if isinstance(payload["rng"], dict) else {}
    shuffle_generator = torch.Generator()
    try:
        if "shuffle" in rng:
            shuffle_generator.set_state(rng["shuffle"])
        torch_rng_state = rng.get("torch")
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
