"""The MNIST tutorial's network, data, training loop and checkpoints, without any UI.

    from mnist_core import TrainConfig, get_preset, load_mnist, new_training_state, train, NetSpec
    data = load_mnist()
    state = new_training_state(TrainConfig(n_epochs=1))          # the tutorial's network and recipe
    modern = get_preset("modern")                                 # or any NetSpec and Recipe
    state = new_training_state(modern.config, spec=NetSpec.from_dict(modern.spec), recipe=modern.recipe)
    for event in train(state, data):
        ...
"""

from .checkpoint import DEFAULT_CHECKPOINT_DIR, CheckpointError, checkpoint_bytes, load_checkpoint, save_checkpoint
from .training.config import ConfigError, TrainConfig, config_errors
from .data import MEAN, STD, DataError, MnistData, load_mnist, normalize, to_pixels
from .training.device import available_devices, resolve_device
from .training.engine import (
    BatchEvent,
    History,
    StoppedEvent,
    TestEvent,
    TrainingDiverged,
    TrainingState,
    apply_config,
    evaluate,
    new_training_state,
    predict,
    sgd_step,
    train,
)
from .network.tutorial import FLAT_FEATURES, tutorial_model, tutorial_spec
from .network.spec import NetSpec, SpecError, build_model, check_spec
from .training.presets import PRESETS, get_preset
from .training.recipe import Recipe
from .network.shapes import conv_output_size, pool_output_size, same_padding

__all__ = [
    "BatchEvent", "CheckpointError", "ConfigError", "DEFAULT_CHECKPOINT_DIR", "DataError", "FLAT_FEATURES", "History", "MEAN", "MnistData",
    "NetSpec", "PRESETS", "Recipe", "STD", "SpecError", "StoppedEvent", "TestEvent", "TrainConfig", "TrainingDiverged", "TrainingState",
    "apply_config", "available_devices", "build_model", "check_spec", "checkpoint_bytes", "config_errors", "conv_output_size", "evaluate", "get_preset", "load_checkpoint",
    "load_mnist", "new_training_state", "normalize", "pool_output_size", "predict", "resolve_device",
    "same_padding", "save_checkpoint", "sgd_step", "to_pixels", "train", "tutorial_model", "tutorial_spec",
]
