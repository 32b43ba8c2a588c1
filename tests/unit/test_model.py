"""The tutorial's model, built from its spec: the tutorial's layers in its order, and the 320 worked out from the shapes."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mnist_core import FLAT_FEATURES, tutorial_model

POOL_SIZE = 2  # the tutorial's F.max_pool2d(x, 2)


def test_flat_features_match_a_real_forward_pass():
    net = tutorial_model().eval()
    x = torch.randn(3, 1, 28, 28)
    conv_part = F.relu(F.max_pool2d(net.conv2(F.relu(F.max_pool2d(net.conv1(x), POOL_SIZE))), POOL_SIZE))
    assert conv_part.shape == (3, 20, 4, 4)
    assert conv_part[0].numel() == FLAT_FEATURES == 320


def test_layers_have_the_tutorials_shapes():
    shapes = {name: tuple(p.shape) for name, p in tutorial_model().named_parameters()}
    assert shapes == {
        "conv1.weight": (10, 1, 5, 5), "conv1.bias": (10,),
        "conv2.weight": (20, 10, 5, 5), "conv2.bias": (20,),
        "fc1.weight": (50, 320), "fc1.bias": (50,),
        "fc2.weight": (10, 50), "fc2.bias": (10,),
    }
    assert sum(p.numel() for p in tutorial_model().parameters()) == 21_840


def test_output_is_log_probabilities_over_ten_digits():
    output = tutorial_model().eval()(torch.randn(5, 1, 28, 28))
    assert output.shape == (5, 10)
    assert torch.allclose(output.exp().sum(dim=1), torch.ones(5), atol=1e-5)


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    net = tutorial_model()
    x = torch.randn(4, 1, 28, 28)
    assert not torch.equal(net.train()(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))


def test_feature_maps_are_what_the_forward_pass_uses():
    net = tutorial_model().eval()
    x = torch.randn(2, 1, 28, 28)
    maps = net.feature_maps(x)
    assert {k: tuple(v.shape) for k, v in maps.items()} == {
        "conv1": (2, 10, 24, 24), "pool1": (2, 10, 12, 12), "relu1": (2, 10, 12, 12), "conv2": (2, 20, 8, 8),
        "drop2d1": (2, 20, 8, 8), "pool2": (2, 20, 4, 4), "relu2": (2, 20, 4, 4),
    }
    assert (maps["relu1"] >= 0).all() and (maps["conv1"] < 0).any()
    assert torch.equal(maps["drop2d1"], maps["conv2"])  # eval mode: dropout passes everything
    hidden = F.relu(net.fc1(maps["relu2"].reshape(2, FLAT_FEATURES)))
    assert torch.allclose(F.log_softmax(net.fc2(hidden), dim=1), net(x), atol=1e-6)


def test_channels_last_gives_the_same_output():
    torch.manual_seed(0)
    net = tutorial_model().eval()
    x = torch.randn(8, 1, 28, 28)
    expected = net(x)
    net.to(memory_format=torch.channels_last)
    assert torch.allclose(net(x.contiguous(memory_format=torch.channels_last)), expected, atol=1e-5)
