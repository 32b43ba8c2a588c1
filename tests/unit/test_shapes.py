"""mnist_core.network.shapes and the network table against what PyTorch itself computes."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mnist_core import FLAT_FEATURES, PRESETS, NetSpec, build_model, check_spec, tutorial_spec
from mnist_core.network.shapes import (
    ConvLayer,
    PoolLayer,
    ShapeError,
    conv_output_size,
    conv_output_steps,
    conv_parameters,
    pool_output_size,
    pool_output_steps,
    pytorch_output_shape,
    same_padding,
    same_padding_plan,
)
from mnist_core.network.table import network_table
from tests.tutorial_reference import TutorialNet

N_RANDOM_CASES = 300


def torch_side(module: nn.Module, n: int) -> int | None:
    """Output side length PyTorch gives on a 1x1xnxn zero tensor, or None when it refuses."""
    try:
        with torch.no_grad():
            out = module(torch.zeros(1, 1, n, n))
    except RuntimeError:
        return None
    return out.shape[-1]


def random_cases(seed: int):
    rng = random.Random(seed)
    for _ in range(N_RANDOM_CASES):
        yield dict(
            n=rng.randint(1, 40), f=rng.randint(1, 9), p=rng.randint(0, 6), s=rng.randint(1, 5), d=rng.randint(1, 3)
        )


def test_conv_output_size_matches_conv2d_on_random_cases():
    refused = 0
    for case in random_cases(seed=0):
        n, f, p, s, d = case.values()
        expected = torch_side(nn.Conv2d(1, 1, f, stride=s, padding=p, dilation=d), n)
        if expected is None:
            refused += 1
            with pytest.raises(ShapeError) as caught:
                conv_output_size(n, f, p, s, d)
            assert caught.value.rule == "kernel_too_large", case
        else:
            assert conv_output_size(n, f, p, s, d) == expected, case
    assert 0 < refused < N_RANDOM_CASES  # both kinds of case were exercised


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pool_output_size_matches_maxpool2d_on_random_cases(ceil_mode):
    rules = set()
    for case in random_cases(seed=1):
        n, f, p, s, d = case.values()
        expected = torch_side(nn.MaxPool2d(f, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode), n)
        if expected is None:
            with pytest.raises(ShapeError) as caught:
                pool_output_size(n, f, s, p, d, ceil_mode)
            rules.add(caught.value.rule)
        else:
            assert pool_output_size(n, f, s, p, d, ceil_mode) == expected, case
    assert "pool_padding" in rules and rules & {"kernel_too_large", "window_outside"}


def test_ceil_mode_lets_a_window_hang_over_the_edge():
    # kernel 3 on input 2 at stride 2: floor mode refuses, ceil mode makes one hanging window
    assert torch_side(nn.MaxPool2d(3, 2, ceil_mode=True), 2) == pool_output_size(2, 3, 2, ceil_mode=True) == 1
    with pytest.raises(ShapeError, match="kernel 3 is larger than the padded input 2"):
        pool_output_size(2, 3, 2)


def test_ceil_mode_drops_a_last_window_starting_in_the_padding():
    # 5 + 2*1 = 7 cells, kernel 2, stride 2: ceil gives 4 windows, but the 4th would start at 6 = n + p
    steps = pool_output_steps(5, 2, 2, p=1, ceil_mode=True)
    assert steps.last_window_removed
    assert steps.result == torch_side(nn.MaxPool2d(2, 2, padding=1, ceil_mode=True), 5) == 3


def test_pool_padding_limit_is_half_the_kernel_even_when_dilated():
    # the dilated span is 5, but PyTorch still allows only 3 // 2 = 1
    assert torch_side(nn.MaxPool2d(3, 1, padding=2, dilation=2), 9) is None
    with pytest.raises(ShapeError) as caught:
        pool_output_size(9, 3, 1, p=2, d=2)
    assert caught.value.rule == "pool_padding"
    assert caught.value.values == {"padding": 2, "kernel": 3, "limit": 1}


def test_pool_stride_defaults_to_kernel():
    assert pool_output_size(24, 2) == torch_side(nn.MaxPool2d(2), 24) == 12


def test_kernel_larger_than_padded_input_names_the_numbers():
    with pytest.raises(ShapeError, match="kernel 7 is larger than the padded input 5") as caught:
        conv_output_size(5, 7)
    assert caught.value.values == {"kernel": 7, "span": 7, "padded": 5}
    with pytest.raises(ShapeError, match=r"kernel 3 with dilation 3 \(spanning 7\)"):
        conv_output_size(5, 3, d=3)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_non_whole_or_too_small_values_are_refused(bad):
    with pytest.raises(ValueError, match="input size n must be a whole number of at least 1"):
        conv_output_size(bad, 3)
    with pytest.raises(ShapeError) as caught:
        pool_output_size(bad, 2)
    assert caught.value.rule == "whole_number"


def test_negative_padding_is_refused():
    with pytest.raises(ShapeError, match="padding p must be a whole number of at least 0"):
        conv_output_size(28, 5, p=-1)


def test_flooring_case_steps_and_dropped_rows():
    steps = conv_output_steps(28, 5, 0, 2)
    assert (steps.padded, steps.numerator, steps.quotient, steps.rounded, steps.result) == (28, 23, 11.5, 11, 12)
    assert not steps.exact
    # windows start at 0, 2, ..., 22 and end at 26: row 27 is never read
    assert (steps.leftover, steps.dropped_input) == (1, 1)


def test_leftover_cells_in_the_padding_drop_no_input():
    steps = conv_output_steps(6, 3, p=1, s=2)  # padded 8, windows at 0, 2, 4 end at 7: one padding cell left
    assert (steps.result, steps.leftover, steps.dropped_input) == (3, 1, 0)


def test_exact_division_drops_nothing():
    steps = conv_output_steps(28, 5)
    assert steps.exact and steps.result == 24 and steps.leftover == steps.dropped_input == 0


def test_dropped_input_matches_the_cells_no_window_reads():
    for case in random_cases(seed=2):
        n, f, p, s, d = case.values()
        try:
            steps = conv_output_steps(n, f, p, s, d)
        except ShapeError:
            continue
        # the last row the last window's span reaches, in input coordinates
        last_row_covered = (steps.result - 1) * s + steps.span - 1 - p
        assert steps.dropped_input == max(0, n - 1 - last_row_covered), case


@pytest.mark.parametrize("f", [1, 3, 5, 7, 9, 31])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_same_padding_matches_pytorch_same_for_odd_kernels(f, d):
    p = same_padding(f, d)
    assert p is not None
    n = 40
    assert conv_output_size(n, f, p, 1, d) == n
    reference = nn.Conv2d(1, 1, f, padding="same", dilation=d)
    explicit = nn.Conv2d(1, 1, f, padding=p, dilation=d)
    explicit.load_state_dict(reference.state_dict())
    x = torch.randn(1, 1, n, n)
    with torch.no_grad():
        torch.testing.assert_close(explicit(x), reference(x))  # same numbers, not only the same size


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("f", [2, 4, 6])
def test_even_kernel_has_no_symmetric_same_padding(f):
    plan = same_padding_plan(f)
    assert same_padding(f) is None and not plan.symmetric
    assert (plan.total, plan.left, plan.right) == (f - 1, (f - 1) // 2, (f - 1) - (f - 1) // 2)
    n = 20
    # every whole p misses: p = left shrinks the input, p = left + 1 grows it
    assert conv_output_size(n, f, plan.left) == n - 1
    assert conv_output_size(n, f, plan.left + 1) == n + 1
    # PyTorch's padding="same" pads left cells on the left/top and right cells on the right/bottom
    reference = nn.Conv2d(1, 1, f, padding="same")
    x = torch.randn(1, 1, n, n)
    padded = F.pad(x, (plan.left, plan.right, plan.left, plan.right))
    with torch.no_grad():
        torch.testing.assert_close(F.conv2d(padded, reference.weight, reference.bias), reference(x))


def test_even_kernel_with_even_dilation_can_pad_symmetrically():
    assert same_padding(4, 2) == 3 and conv_output_size(17, 4, 3, 1, 2) == 17


@pytest.mark.parametrize("in_channels,out_channels,f", [(1, 10, 5), (10, 20, 5), (3, 64, 3), (7, 1, 1)])
def test_conv_parameters_match_conv2d(in_channels, out_channels, f):
    params = conv_parameters(in_channels, out_channels, f)
    module = nn.Conv2d(in_channels, out_channels, f)
    assert params.total == sum(t.numel() for t in module.parameters())
    assert params.kernels_per_filter == module.weight.shape[1] == in_channels
    assert params.filters == module.weight.shape[0] == out_channels
    assert params.weights_per_filter == module.weight[0].numel()
    assert params.biases == module.bias.numel()


def test_layers_work_out_shapes_and_parameters_like_pytorch():
    layers = [ConvLayer(8, 3, padding=1), PoolLayer(2), ConvLayer(16, 3, stride=2), PoolLayer(3, stride=1, padding=1)]
    shape = (1, 28, 28)
    x = torch.zeros(1, *shape)
    for layer in layers:
        module = layer.pytorch_module(shape[0])
        x = module(x)
        assert layer.parameters(shape) == sum(t.numel() for t in module.parameters())
        shape = layer.output_shape(shape)
        assert shape == tuple(x.shape[1:])
    assert shape == (16, 6, 6)


def test_an_impossible_layer_raises_and_pytorch_refuses_it_too():
    with pytest.raises(ShapeError) as refused:
        ConvLayer(8, 5).output_shape((4, 3, 3))
    assert refused.value.rule == "kernel_too_large"
    assert str(refused.value) == "kernel 5 is larger than the padded input 3."
    with pytest.raises(ValueError, match="PyTorch refuses"):
        pytorch_output_shape(ConvLayer(8, 5), (4, 3, 3))
    with pytest.raises(ShapeError) as rectangular:  # both sides are checked: 28 fits, 4 does not
        ConvLayer(2, 5).output_shape((3, 28, 4))
    assert rectangular.value.values["padded"] == 4


def test_pytorch_output_shape_agrees_with_the_chain():
    layer = ConvLayer(20, 5, stride=2)
    assert pytorch_output_shape(layer, (10, 28, 28)) == layer.output_shape((10, 28, 28)) == (20, 12, 12)


def test_tutorial_table_is_the_tutorial_network():
    rows = network_table(tutorial_spec())
    assert [row.output_shape for row in rows] == [
        (1, 28, 28), (10, 24, 24), (10, 12, 12), (10, 12, 12), (20, 8, 8), (20, 8, 8), (20, 4, 4), (20, 4, 4),
        (320,), (50,), (50,), (50,), (10,)
    ]
    by_name = {row.name: row for row in rows}
    assert by_name["flatten1"].output_shape == (FLAT_FEATURES,)
    assert by_name["conv1"].code == "nn.Conv2d(1, 10, kernel_size=5)"
    assert by_name["conv2"].code == "nn.Conv2d(10, 20, kernel_size=5)"
    assert by_name["fc1"].code == "nn.Linear(320, 50)"
    assert by_name["drop2d1"].code == "nn.Dropout2d(p=0.5)"


def test_tutorial_table_matches_the_tutorials_own_class_layer_by_layer():
    net = TutorialNet().eval()
    rows = {row.name: row for row in network_table(tutorial_spec())}
    x = torch.zeros(1, 1, 28, 28)
    assert tuple(x.shape[1:]) == rows["input"].output_shape
    with torch.no_grad():
        x = net.conv1(x)
        assert tuple(x.shape[1:]) == rows["conv1"].output_shape
        x = F.relu(F.max_pool2d(x, 2))
        assert tuple(x.shape[1:]) == rows["pool1"].output_shape == rows["relu1"].output_shape
        x = net.conv2(x)
        assert tuple(x.shape[1:]) == rows["conv2"].output_shape
        x = F.relu(F.max_pool2d(x, 2))
        assert tuple(x.shape[1:]) == rows["pool2"].output_shape
        x = x.view(-1, 320)
        assert tuple(x.shape[1:]) == rows["flatten1"].output_shape
        x = net.fc1(x)
        assert tuple(x.shape[1:]) == rows["fc1"].output_shape
        x = net.fc2(x)
        assert tuple(x.shape[1:]) == rows["fc2"].output_shape
    for name in ("conv1", "conv2", "fc1", "fc2"):
        assert rows[name].parameters == sum(t.numel() for t in getattr(net, name).parameters()), name
    assert sum(row.parameters for row in rows.values()) == sum(t.numel() for t in net.parameters())


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_rows_code_builds_the_layer_pytorch_runs(preset):
    """Every row's code, run as Python, makes a module with the built model's parameter shapes and output shape."""
    spec = NetSpec.from_dict(PRESETS[preset].spec)
    model = build_model(spec).eval()
    x = torch.zeros(2, 1, 28, 28)
    for row in network_table(spec)[1:]:
        module = eval(row.code, {"nn": nn}).eval()  # noqa: S307  (the table's own strings, not user input)
        built = getattr(model, row.name)
        assert [p.shape for p in module.parameters()] == [p.shape for p in built.parameters()], row.code
        with torch.no_grad():
            x = built(x)
            assert tuple(module(torch.zeros(2, *row_input_shape(spec, row.name))).shape[1:]) == row.output_shape
        assert tuple(x.shape[1:]) == row.output_shape, row.name


def row_input_shape(spec, name):
    return next(layer.input_shape for layer in check_spec(spec).layers if layer.name == name)
