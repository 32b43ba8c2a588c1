"""One training step taken apart (mnist_core.training.step): each stage's numbers agree with what PyTorch itself does."""

from __future__ import annotations

import pytest
import torch

from mnist_core import TrainConfig
from mnist_core.network.spec import NetSpec
from mnist_core.training.presets import PRESETS
from mnist_core.training.recipe import Recipe
from mnist_core.training.step import (
    MAX_LAB_ELEMENTS,
    StepError,
    backward_pass,
    class_scores,
    copy_training_state,
    draw_batch,
    forward_shapes,
    fresh_model,
    grad_tracking,
    loss_by_hand,
    mode_passes,
    new_lab,
    optimizer_step,
    parse_shape,
    repeat_steps,
    seeded_loss,
    tensor_operation,
)

SEED = 1
BATCH = 16  # small: every stage runs in milliseconds


def lab_for(data, preset: str = "tutorial", recipe: Recipe | None = None, config: TrainConfig | None = None,
            batch_size: int = BATCH, seed: int = SEED):
    chosen = PRESETS[preset]
    state = fresh_model(NetSpec.from_dict(chosen.spec), config or chosen.config, recipe or chosen.recipe, seed)
    return new_lab(state.model, state.optimizer, state.config, state.recipe, data, batch_size, seed)


def test_the_batch_is_drawn_by_its_seed(embedded_data):
    first = draw_batch(embedded_data, 8, 3)
    assert torch.equal(first[2], draw_batch(embedded_data, 8, 3)[2])
    assert not torch.equal(first[2], draw_batch(embedded_data, 8, 4)[2])
    assert first[0].shape == (8, 1, 28, 28) and torch.equal(first[1], embedded_data.train_labels[first[2]])
    for bad in (0, 65, 2.5, True):
        with pytest.raises(StepError) as caught:
            draw_batch(embedded_data, bad, 3)
        assert caught.value.rule == "batch_size"


def test_forward_shapes_carry_the_batch_dimension(embedded_data):
    lab = lab_for(embedded_data, batch_size=64)
    shapes = {row.name: row.shape for row in forward_shapes(lab.model, lab.images)}
    assert shapes["input"] == (64, 1, 28, 28)
    assert shapes["conv1"] == (64, 10, 24, 24)
    assert shapes["flatten1"] == (64, 320)  # the tutorial's view(-1, 320)
    assert shapes["fc2"] == shapes["log_softmax"] == (64, 10)


def test_scores_softmax_and_log_softmax(embedded_data):
    lab = lab_for(embedded_data)
    scores = class_scores(lab.model, lab.images[0])
    assert scores.image_shape == (1, 28, 28) and scores.batched_shape == (1, 1, 28, 28)
    assert scores.output_shape == (1, 10) and scores.squeezed_shape == (10,)
    assert scores.probability_sum == pytest.approx(1.0, abs=1e-6)
    assert scores.exp_log_max_difference < 1e-6
    expected = torch.softmax(torch.tensor(scores.scores), dim=0)
    assert torch.allclose(torch.tensor(scores.probabilities), expected)


def test_hand_computed_nll_equals_f_nll_loss(embedded_data):
    lab = lab_for(embedded_data)
    worked = loss_by_hand(lab)
    assert worked.labels == lab.labels.tolist()
    assert worked.per_image == [-value for value in worked.true_log_probabilities]
    assert worked.hand_mean == pytest.approx(worked.torch_loss, abs=1e-6)
    assert worked.difference < 1e-6


def test_backward_twice_without_zero_grad_doubles_the_gradient(embedded_data):
    lab = lab_for(embedded_data)  # the tutorial net: dropout draws the same masks each pass
    once = backward_pass(lab, zero_grad=True)
    single = {name: p.grad.clone() for name, p in lab.model.named_parameters()}
    twice = backward_pass(lab, zero_grad=False)
    assert twice.passes == 2
    for name, p in lab.model.named_parameters():
        assert torch.equal(p.grad, 2 * single[name]), name
    for (name, norm_once), (_, norm_twice) in zip(once.norms, twice.norms):
        assert norm_twice == pytest.approx(2 * norm_once, rel=1e-6), name
    assert torch.equal(twice.first_conv_gradients, 2 * once.first_conv_gradients)
    again = backward_pass(lab, zero_grad=True)  # zero_grad starts over
    assert again.passes == 1 and again.norms == once.norms


def test_gradient_norms_name_every_parameter(embedded_data):
    lab = lab_for(embedded_data)
    gradients = backward_pass(lab)
    assert [name for name, _ in gradients.norms] == [name for name, _ in lab.model.named_parameters()]
    assert gradients.norms[0][0] == "conv1.weight" and gradients.norms[-1][0] == "fc2.bias"
    assert gradients.first_conv_weights.shape == gradients.first_conv_gradients.shape == (10, 5, 5)
    assert all(norm > 0 for _, norm in gradients.norms)


@pytest.mark.parametrize("recipe, momentum", [
    (Recipe(), 0.5), (Recipe(), 0.0), (Recipe(nesterov=True, weight_decay=0.01), 0.9),
    (Recipe(optimizer="adam"), 0.5), (Recipe(optimizer="adamw", weight_decay=0.01), 0.5),
])
def test_the_shown_update_is_what_optimizer_step_did(embedded_data, recipe, momentum):
    config = TrainConfig(learning_rate=0.01, momentum=momentum)
    lab = lab_for(embedded_data, recipe=recipe, config=config)
    for step in range(2):  # the second step starts from a momentum buffer (or Adam's averages)
        backward_pass(lab)
        weights = dict(lab.model.named_parameters())["fc1.weight"]
        before = weights.detach().clone()
        result = optimizer_step(lab, "fc1.weight")
        assert len(result.weights) == 3 and result.step_number == step + 1
        for update in result.weights:
            assert update.before == before[update.index].item()
            assert update.by_torch == weights.detach()[update.index].item()  # optimizer.step() wrote this
            assert update.by_formula == pytest.approx(update.by_torch, rel=1e-5, abs=1e-8)
            assert update.by_torch != update.before
    assert result.optimizer == recipe.optimizer


def test_sgd_velocity_follows_pytorchs_form(embedded_data):
    lab = lab_for(embedded_data, config=TrainConfig(learning_rate=0.1, momentum=0.9))
    backward_pass(lab)
    first = optimizer_step(lab, "conv1.weight")
    for update in first.weights:  # first step: v = g, p <- p - lr * v
        assert update.velocity == update.gradient
        assert update.by_formula == pytest.approx(update.before - 0.1 * update.gradient, rel=1e-6)
    backward_pass(lab)
    second = optimizer_step(lab, "conv1.weight")
    for update in second.weights:  # v <- mu * v + g, lr outside v
        assert update.velocity == pytest.approx(0.9 * update.velocity_before + update.gradient, rel=1e-6)
        assert update.by_formula == pytest.approx(update.before - 0.1 * update.velocity, rel=1e-5)


def test_a_step_lowers_the_batch_loss_and_a_huge_rate_overshoots(embedded_data):
    lab = lab_for(embedded_data)
    backward_pass(lab)
    gentle = optimizer_step(lab, learning_rate=0.05)
    assert gentle.loss_after < gentle.loss_before
    lab = lab_for(embedded_data)
    backward_pass(lab)
    huge = optimizer_step(lab, learning_rate=50.0)
    assert huge.loss_after > huge.loss_before


def test_step_needs_backward_first(embedded_data):
    lab = lab_for(embedded_data)
    with pytest.raises(StepError) as caught:
        optimizer_step(lab)
    assert caught.value.rule == "needs_backward"


def test_repeat_runs_momenta_from_the_same_start_on_copies(embedded_data):
    lab = lab_for(embedded_data)
    weights = {name: p.detach().clone() for name, p in lab.model.named_parameters()}
    curves = repeat_steps(lab, embedded_data, 5, learning_rate=0.05)
    assert [curve.momentum for curve in curves] == [0.0, 0.5, 0.9]
    assert all(len(curve.losses) == 5 for curve in curves)
    assert len({curve.losses[0] for curve in curves}) == 1  # same start, same first batch, same masks
    assert len({curve.losses[-1] for curve in curves}) == 3  # momentum changes where they go
    for name, p in lab.model.named_parameters():
        assert torch.equal(p, weights[name]), "the lab's own model must not move"
    with pytest.raises(StepError):
        repeat_steps(lab, embedded_data, 201)


def test_repeat_adds_the_recipes_adam_curve(embedded_data):
    lab = lab_for(embedded_data, recipe=Recipe(optimizer="adam"))
    curves = repeat_steps(lab, embedded_data, 2, momenta=(0.5,))
    assert [curve.optimizer for curve in curves] == ["sgd", "adam"]


def test_eval_mode_is_deterministic_and_train_mode_is_not_with_dropout(embedded_data):
    lab = lab_for(embedded_data)
    passes = mode_passes(lab.model, lab.images[0], SEED)
    assert passes.has_dropout
    assert passes.eval_identical
    assert passes.train_spread > 0
    assert passes.train_probabilities.shape == passes.eval_probabilities.shape == (20, 10)


def test_a_net_without_dropout_is_steady_in_train_mode_too(embedded_data):
    lab = lab_for(embedded_data, "modern")
    passes = mode_passes(lab.model, lab.images[0], SEED)
    assert not passes.has_dropout and passes.train_spread == 0


def test_no_grad_keeps_no_graph(embedded_data):
    lab = lab_for(embedded_data)
    recorded, bare = grad_tracking(lab.model, lab.images[0])
    assert recorded.requires_grad and recorded.grad_fn == "LogSoftmaxBackward0" and recorded.graph_nodes > 5
    assert not bare.requires_grad and bare.grad_fn is None and bare.graph_nodes == 0


def test_the_same_seed_gives_the_same_loss(embedded_data):
    preset = PRESETS["tutorial"]

    def make(seed):
        return fresh_model(NetSpec.from_dict(preset.spec), preset.config, preset.recipe, seed).model

    first = seeded_loss(make, embedded_data, BATCH, 7)
    assert seeded_loss(make, embedded_data, BATCH, 7) == first  # to the last digit
    assert seeded_loss(make, embedded_data, BATCH, 8) != first


def test_a_copied_session_model_leaves_the_original_alone(trained_state, embedded_data):
    before = {name: p.detach().clone() for name, p in trained_state.model.named_parameters()}
    model, optimizer = copy_training_state(trained_state)
    lab = new_lab(model, optimizer, trained_state.config, trained_state.recipe, embedded_data, BATCH, SEED)
    backward_pass(lab)
    result = optimizer_step(lab, "conv1.weight")
    assert result.weights[0].velocity_before != 0  # the copied momentum buffer carries on
    assert result.max_formula_difference < 1e-6
    for name, p in trained_state.model.named_parameters():
        assert torch.equal(p, before[name]), name


@pytest.mark.parametrize("operation, shape, argument, expected", [
    ("view", (64, 20, 4, 4), (-1, 320), (64, 320)),
    ("reshape", (64, 20, 4, 4), (64, -1), (64, 320)),
    ("squeeze", (1, 10), 0, (10,)),
    ("squeeze", (1, 1, 28, 28), None, (28, 28)),
    ("unsqueeze", (1, 28, 28), 0, (1, 1, 28, 28)),
    ("flatten", (64, 20, 4, 4), None, (64, 320)),
    ("bmm", (8, 3, 4), (8, 4, 5), (8, 3, 5)),
])
def test_tensor_lab_answers_with_torchs_shapes(operation, shape, argument, expected):
    result = tensor_operation(operation, shape, argument)
    assert result.shape == expected and result.refusal == ""


@pytest.mark.parametrize("operation, shape, argument, words", [
    ("view", (64, 20, 4, 4), (-1, 321), "invalid for input of size 20480"),
    ("bmm", (8, 3, 4), (8, 5, 6), "Expected size"),
    ("unsqueeze", (1, 28, 28), 5, "out of range"),
    ("bmm", (3, 4), (8, 4, 5), "3D"),
])
def test_tensor_lab_gives_pytorchs_own_refusal(operation, shape, argument, words):
    result = tensor_operation(operation, shape, argument)
    assert result.shape is None and words in result.refusal


def test_shapes_are_parsed_and_bounded():
    assert parse_shape("64, 1, 28, 28") == (64, 1, 28, 28)
    assert parse_shape("64 × 320") == (64, 320)
    assert parse_shape("-1, 320", allow_minus_one=True) == (-1, 320)
    for text, rule in (("", "not_a_shape"), ("a, b", "not_a_shape"), ("-1, 3", "negative_size"),
                       ("1,1,1,1,1,1,1", "too_many_dimensions"), (f"{MAX_LAB_ELEMENTS + 1}", "too_many_elements")):
        with pytest.raises(StepError) as caught:
            parse_shape(text)
        assert caught.value.rule == rule
    with pytest.raises(StepError):
        tensor_operation("bmm", (100, 1000, 1), (100, 1, 1000))  # 100 million results



@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_model_trained_on_cuda_is_copied_to_the_cpu(embedded_data):
    from mnist_core import new_training_state, train

    state = new_training_state(TrainConfig(n_epochs=1, device="cuda"))
    for _ in train(state, embedded_data):
        pass
    model, optimizer = copy_training_state(state)
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(value.device.type == "cpu" for values in optimizer.state.values() for value in values.values()
               if isinstance(value, torch.Tensor))
    lab = new_lab(model, optimizer, state.config, state.recipe, embedded_data, BATCH, SEED)
    backward_pass(lab)
    assert optimizer_step(lab).max_formula_difference < 1e-6
