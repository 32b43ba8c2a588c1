"""The training step replayed from a CUDA graph: one kernel launch per batch instead of dozens.

At batch 64 the GPU waits on the CPU launching each small kernel; a captured graph replays the whole step
(forward, loss, backward, SGD's update) at once. Only for the tutorial's recipe: a graph freezes the
learning rate (a schedule changes it every step) and cannot take the run's own random generator (dropout
then draws from the default CUDA generator, and augmentation would repeat the same draws).

    step = CudaGraphStep(eager_step, batch_size=64)   # eager_step: the engine's step over batch indices
    loss = step(batch_indices)                         # warm-up, capture, then replays
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .recipe import Recipe

WARMUP_STEPS = 3  # eager steps on a side stream before capture: they create SGD's momentum buffers


def uses_cuda_graph(requested: bool, device: torch.device, recipe: Recipe) -> bool:
    """Whether a run replays its steps from a graph: asked for, on CUDA, with the tutorial's recipe only."""
    return requested and device.type == "cuda" and recipe == Recipe()


class CudaGraphStep:
    """The eager step's update, replayed from a CUDA graph for every batch of the full size.

    The first WARMUP_STEPS batches run eagerly on a side stream; the next full batch is captured, and every
    later batch of that size only copies its indices in and replays. A batch of another size (the last,
    partial one) runs eagerly: it updates the same parameter and momentum tensors in place, which the graph
    reads at their fixed addresses.

    eager_step: called with a batch's indices, it trains on them (the engine's step); its ``model``,
    ``optimizer``, ``images`` and ``labels`` are what the graph captures.
    """

    def __init__(self, eager_step: Callable[[torch.Tensor], torch.Tensor], batch_size: int) -> None:
        self.eager_step = eager_step
        self.model, self.optimizer = eager_step.model, eager_step.optimizer
        self.images, self.labels = eager_step.images, eager_step.labels
        self.batch_size = batch_size
        self.steps_run = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_batch = torch.zeros(batch_size, dtype=torch.long, device=self.images.device)
        self.static_loss: torch.Tensor | None = None

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if len(batch) != self.batch_size:
            return self.eager_step(batch)
        if self.graph is None and self.steps_run < WARMUP_STEPS:
            self.steps_run += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                loss = self.eager_step(batch)
            torch.cuda.current_stream().wait_stream(side)
            return loss
        self.static_batch.copy_(batch)
        if self.graph is None:
            self._capture()
        self.graph.replay()
        return self.static_loss.detach().clone()

    def _capture(self) -> None:
        self.graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)  # backward then allocates .grad in the graph's pool
        with torch.cuda.graph(self.graph):
            output = self.model(self.images.index_select(0, self.static_batch))
            self.static_loss = F.nll_loss(output, self.labels.index_select(0, self.static_batch))
            self.static_loss.backward()
            self.optimizer.step()
