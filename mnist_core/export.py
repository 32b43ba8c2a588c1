"""The current network and training settings as a standalone PyTorch script, in the tutorial's style.

``pytorch_script(spec, config, recipe)`` writes a runnable Python file that trains the same thing outside the
app with plain torch and torchvision; it never imports mnist_core. It holds:

- the hyperparameters at the top, as the tutorial writes them;
- the tutorial's ``Normalize((0.1307,), (0.3081,))`` and the recipe's augmentation as torchvision transforms.v2;
- ``class Net(nn.Module)``: the spec's layers in order with the same arguments. Layers with weights are
  attributes named as in the app's model (conv1, bn1, fc1, ...), so the two state_dicts have the same keys;
  the others are functional calls in ``forward``, as the tutorial's F.relu and F.max_pool2d;
- the recipe's optimizer and learning-rate schedule, the tutorial's train and test loops with NLL loss on
  log_softmax outputs, and model.pth / optimizer.pth saved after every epoch.

Every number in the script is read from the app's own constants, so the export follows the app. Where the
script cannot do exactly what the app does (its random streams, whole-pixel shifts), its docstring says so.
"""

from __future__ import annotations

from .data import IMAGE_SIZE, MEAN, STD
from .network.shapes import shape_text
from .network.spec import LayerTrace, NetSpec, check_spec
from .network.table import module_call, python_literal
from .training import augment
from .training.config import TrainConfig
from .training.recipe import (
    COSINE_FINAL_LEARNING_RATE,
    ONECYCLE_FINAL_DIVISOR,
    ONECYCLE_START_DIVISOR,
    ONECYCLE_WARMUP_FRACTION,
    Recipe,
    check_recipe_for_config,
)

SCRIPT_FILE_NAME = "mnist_train.py"
INDENT = "    "  # four spaces, PEP 8
DOCSTRING_WIDTH = 100  # characters a line, the project's line length
GEOMETRIC_AUGMENTATIONS = ("rotate", "scale", "shift")  # the kinds one RandomAffine does

WEIGHTED_LAYERS = ("Conv2d", "Linear", "BatchNorm2d")  # attributes in __init__, as the app's model names them
# Pooling arguments the functional call writes after the kernel size, when the spec gives them.
POOL_EXTRAS = {"MaxPool2d": ("stride", "padding", "dilation", "ceil_mode"),
               "AvgPool2d": ("stride", "padding", "ceil_mode")}


def pytorch_script(spec: NetSpec, config: TrainConfig, recipe: Recipe) -> str:
    """The script's source text. Raises SpecError for a spec that cannot be built at this batch size, and
    ConfigError for a recipe that does not fit the config, as starting the same run in the app would."""
    trace = check_spec(spec, config.batch_size_train)
    check_recipe_for_config(config, recipe)
    blocks = [
        _docstring(recipe) + "\n\n" + _imports(recipe),
        _hyperparameters(config, recipe),
        _transforms(recipe),
        _net(trace.layers),
        _device(config.device),
        _optimizer(recipe),
        _scheduler(recipe),
        _train_loop(recipe),
        _TEST_LOOP,
        _main(recipe),
    ]
    return "\n\n\n".join(block.strip("\n") for block in blocks if block) + "\n"


# --- Header ---------------------------------------------------------------------------------------


def _docstring(recipe: Recipe) -> str:
    notes = [
        ("The initial weights are the app's for the same seed: torch.manual_seed, then the layers created in "
         "the same order."),
        ("Random draws: the app shuffles, drops out and augments from its own torch.Generator streams; here "
         "they come from torch's global generator. Batches and masks differ from the app's run, drawn from the "
         "same distributions, so the accuracy differs a little, as between two seeds."),
        ("The app normalizes each split once and slices batches from one tensor; the DataLoader here transforms "
         "image by image: the same numbers, more slowly."),
        ("An epoch is one pass over the training images in --data-dir. If the app trained on its few thousand "
         "embedded digits and --data-dir holds full MNIST (60,000), each epoch here has many more steps."),
    ]
    if recipe.schedule != "constant":
        notes.append("The schedule is planned over this run's steps (epochs x batches), as the app plans each "
                     "run; --epochs changes it.")
    if any(kind in recipe.augment for kind in GEOMETRIC_AUGMENTATIONS):
        notes.append("RandomAffine draws the same ranges as the app per image, but composes rotation, slant "
                     "and scale about the centre in its own order, and shifts by whole pixels (the app by "
                     "fractions of a pixel).")
    if "stroke" in recipe.augment:
        notes.append("No torchvision transform thickens or thins ink: RandomStroke below is the app's rule, "
                     "one image at a time.")
    bullets = "\n".join(_wrapped_bullet(note) for note in notes)
    return f'''"""Train the network from the MNIST dashboard outside the app, with plain PyTorch and torchvision.

Exported from the Train page: the same layers, hyperparameters, optimizer, learning-rate schedule and
augmentation, written in the style of the classic PyTorch MNIST tutorial.

    python {SCRIPT_FILE_NAME} --data-dir ./data              # MNIST's IDX files in ./data/MNIST/raw
    python {SCRIPT_FILE_NAME} --download                     # fetch them first (needs internet)
    python {SCRIPT_FILE_NAME} --epochs 1 --limit-train 500   # a quick check

How this script compares with the app:
{bullets}
"""'''


def _wrapped_bullet(text: str, width: int = DOCSTRING_WIDTH) -> str:
    lines, line = [], "-"
    for word in text.split():
        if len(line) + 1 + len(word) > width:
            lines.append(line)
            line = " "
        line += " " + word
    return "\n".join([*lines, line])


def _imports(recipe: Recipe) -> str:
    lines = ["import argparse"]
    if "rotate" in recipe.augment:
        lines.append("import math")
    lines += ["from pathlib import Path", "", "import torch", "import torch.nn as nn", "import torch.nn.functional as F",
              "import torch.optim as optim", "import torchvision", "from torchvision.transforms import v2"]
    return "\n".join(lines)


def _hyperparameters(config: TrainConfig, recipe: Recipe) -> str:
    rate_comment = {"constant": "", "onecycle": "  # the peak of the OneCycle schedule",
                    "cosine": "  # the start of the cosine schedule"}[recipe.schedule]
    lines = ["# --- Hyperparameters (the Train page's settings) ---",
             f"n_epochs = {config.n_epochs}",
             f"batch_size_train = {config.batch_size_train}",
             f"batch_size_test = {config.batch_size_test}",
             f"learning_rate = {config.learning_rate!r}{rate_comment}"]
    if recipe.optimizer == "sgd":
        lines.append(f"momentum = {config.momentum!r}")
    if recipe.weight_decay:
        lines.append(f"weight_decay = {recipe.weight_decay!r}")
    lines += [f"log_interval = {config.log_interval}", f"random_seed = {config.random_seed}"]
    return "\n".join(lines)


# --- Data and augmentation ------------------------------------------------------------------------


def _transforms(recipe: Recipe) -> str:
    normalize = f"v2.Normalize(({MEAN!r},), ({STD!r},))"
    to_tensor = "v2.ToImage(), v2.ToDtype(torch.float32, scale=True)"  # the tutorial's ToTensor(): 0-255 -> 0-1
    blocks = []
    steps = []
    if any(kind in recipe.augment for kind in GEOMETRIC_AUGMENTATIONS):
        blocks.append(_affine_constants(recipe.augment))
        steps.append(_affine_call(recipe.augment))
    if "stroke" in recipe.augment:
        blocks.append(_STROKE)
        steps.append("RandomStroke()")
    if steps:
        augment_lines = "".join(f"{INDENT}{step},\n" for step in steps)
        blocks.append(f"# Augmentation on ink from 0 (paper) to 1, before Normalize, so the padding is blank paper.\n"
                      f"train_transform = v2.Compose([\n{INDENT}{to_tensor},\n{augment_lines}"
                      f"{INDENT}{normalize},\n])\n"
                      f"test_transform = v2.Compose([{to_tensor}, {normalize}])")
    else:
        blocks.append(f"train_transform = v2.Compose([{to_tensor}, {normalize}])\ntest_transform = train_transform")
    heading = "# --- Data: the tutorial's ToTensor and Normalize" + (", then the app's augmentation" if steps else "")
    return heading + " ---\n" + "\n\n\n".join(block.strip("\n") for block in blocks)


def _affine_constants(kinds: tuple[str, ...]) -> str:
    lines = []
    if "rotate" in kinds:
        lines += [f"MAX_ROTATION_DEGREES = {augment.MAX_ROTATION_DEGREES!r}  # turn either way",
                  f"MAX_SLANT = {augment.MAX_SLANT!r}  # horizontal shear: pixels sideways per pixel of height"]
    if "scale" in kinds:
        lines.append(f"SCALE_RANGE = {augment.SCALE_RANGE!r}  # size factor")
    if "shift" in kinds:
        lines += [f"IMAGE_SIZE = {IMAGE_SIZE}  # pixels a side",
                  f"MAX_SHIFT_PIXELS = {augment.MAX_SHIFT_PIXELS!r}  # in each direction"]
    return "\n".join(lines)


def _affine_call(kinds: tuple[str, ...]) -> str:
    arguments = ["degrees=MAX_ROTATION_DEGREES" if "rotate" in kinds else "degrees=0"]
    if "shift" in kinds:
        arguments.append("translate=(MAX_SHIFT_PIXELS / IMAGE_SIZE, MAX_SHIFT_PIXELS / IMAGE_SIZE)")  # a fraction of a side
    if "scale" in kinds:
        arguments.append("scale=SCALE_RANGE")
    if "rotate" in kinds:
        arguments.append("shear=math.degrees(math.atan(MAX_SLANT))")  # torchvision takes the slant as an angle
    arguments.append("interpolation=v2.InterpolationMode.BILINEAR")  # as the app's grid_sample
    return "v2.RandomAffine(\n" + "".join(f"{INDENT * 2}{argument},\n" for argument in arguments) + f"{INDENT})"


_STROKE_TEMPLATE = '''
# Stroke: a drawing tool's hard-edged ink on some images, then each image's ink thicker (a 3 x 3 dilation)
# or thinner (an erosion), blended in by a random amount. Thinning that would erase a thin digit is skipped.
PEN_FRACTION = {pen_fraction!r}  # share of images given hard-edged ink
PEN_THRESHOLD = {pen_threshold!r}  # ink level that becomes the middle of the hard edge
PEN_EDGE_WIDTH = {pen_edge_width!r}  # ink range over which that edge rises from none to full
MAX_STROKE_BLEND = {max_stroke_blend!r}
THINNER_FRACTION = {thinner_fraction!r}  # share of images thinned rather than thickened
MIN_INK_KEPT_BY_THINNING = {min_ink_kept!r}  # of its ink, or the stroke stays as it was


class RandomStroke:
    def __call__(self, ink):  # 1 x 28 x 28, 0 is paper
        pen, blend, thinner = torch.rand(3).tolist()
        if pen < PEN_FRACTION:
            ink = ((ink - PEN_THRESHOLD) / PEN_EDGE_WIDTH + 0.5).clamp(0.0, 1.0)
        sign = -1.0 if thinner < THINNER_FRACTION else 1.0  # erosion is minus the dilation of minus the ink
        changed = sign * F.max_pool2d(sign * ink, 3, stride=1, padding=1)
        if sign < 0 and changed.sum() < MIN_INK_KEPT_BY_THINNING * ink.sum():
            return ink
        return torch.lerp(ink, changed, blend * MAX_STROKE_BLEND)
'''
_STROKE = _STROKE_TEMPLATE.format(
    pen_fraction=augment.PEN_FRACTION, pen_threshold=augment.PEN_THRESHOLD, pen_edge_width=augment.PEN_EDGE_WIDTH,
    max_stroke_blend=augment.MAX_STROKE_BLEND, thinner_fraction=augment.THINNER_FRACTION,
    min_ink_kept=augment.MIN_INK_KEPT_BY_THINNING,
)


# --- The network ----------------------------------------------------------------------------------


def _extras(layer: LayerTrace, names: tuple[str, ...]) -> str:
    given = dict(layer.layer.arguments)
    return "".join(f", {name}={python_literal(given[name])}" for name in names if name in given)


def _module(layer: LayerTrace) -> str | None:
    """The __init__ line's constructor for a layer with weights or running statistics; None for the others."""
    return module_call(layer) if layer.layer.type in WEIGHTED_LAYERS else None


def _functional(layer: LayerTrace) -> str:
    """The forward line's call for a layer without weights, as the tutorial writes F.relu and F.max_pool2d."""
    kind, get = layer.layer.type, layer.layer.get
    if kind in POOL_EXTRAS:
        name = "F.max_pool2d" if kind == "MaxPool2d" else "F.avg_pool2d"
        return f"{name}(x, kernel_size={get('kernel_size')}{_extras(layer, POOL_EXTRAS[kind])})"
    if kind == "AdaptiveAvgPool2d":
        return f"F.adaptive_avg_pool2d(x, {get('output_size')})"
    if kind == "ReLU":
        return "F.relu(x)"
    if kind == "LeakyReLU":
        return f"F.leaky_relu(x, negative_slope={python_literal(get('negative_slope'))})"
    if kind == "Dropout":
        return f"F.dropout(x, p={python_literal(get('p'))}, training=self.training)"
    if kind == "Dropout2d":
        return f"F.dropout2d(x, p={python_literal(get('p'))}, training=self.training)"
    if kind == "Flatten":
        return "torch.flatten(x, 1)"
    raise ValueError(f"no functional form for {kind}")  # every type of netspec.LAYER_TYPES is handled above


def _net(layers: tuple[LayerTrace, ...]) -> str:
    init, forward = [], []
    for layer in layers:
        module = _module(layer)
        if module is not None:
            init.append(f"{INDENT * 2}self.{layer.name} = {module}")
        call = f"self.{layer.name}(x)" if module is not None else _functional(layer)
        shape = shape_text(layer.output_shape)
        if layer.layer.type == "Flatten":
            shape += f", as the tutorial's x.view(-1, {layer.output_shape[0]})"
        forward.append(f"{INDENT * 2}x = {call}  # {shape}")
    return "\n".join([
        "# --- The network: the Train page's layers, in order ---",
        "class Net(nn.Module):",
        f"{INDENT}def __init__(self):",
        f"{INDENT * 2}super().__init__()",
        *init,
        "",
        f"{INDENT}def forward(self, x):  # N x 1 x 28 x 28",
        *forward,
        f"{INDENT * 2}return F.log_softmax(x, dim=1)  # log-probabilities, for F.nll_loss",
    ])


# --- Device, loops and main -----------------------------------------------------------------------


def _device(choice: str) -> str:
    if choice != "auto":
        return f'def pick_device():\n{INDENT}return torch.device("{choice}")  # as chosen on the Train page'
    return "\n".join([
        "def pick_device():",
        f'{INDENT}"""CUDA, then Apple\'s MPS, then the CPU, as the app\'s "auto"."""',
        f"{INDENT}if torch.cuda.is_available():",
        f'{INDENT * 2}return torch.device("cuda")',
        f"{INDENT}if torch.backends.mps.is_available():",
        f'{INDENT * 2}return torch.device("mps")',
        f'{INDENT}return torch.device("cpu")',
    ])


def _train_loop(recipe: Recipe) -> str:
    scheduled = recipe.schedule != "constant"
    signature = "network, device, train_loader, optimizer, scheduler, epoch" if scheduled else \
        "network, device, train_loader, optimizer, epoch"
    step = f"\n{INDENT * 2}scheduler.step()  # the learning rate for the next step" if scheduled else ""
    return f'''def train({signature}):
    network.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = network(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step(){step}
        if batch_idx % log_interval == 0:
            print(f"Train Epoch: {{epoch}} [{{batch_idx * train_loader.batch_size}}/{{len(train_loader.dataset)}} "
                  f"({{100.0 * batch_idx / len(train_loader):.0f}}%)]\\tLoss: {{loss.item():.6f}}")'''


_TEST_LOOP = '''
def test(network, device, test_loader):
    network.eval()
    test_loss = 0.0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = network(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            correct += (output.argmax(dim=1) == target).sum().item()
    test_loss /= len(test_loader.dataset)
    accuracy = 100.0 * correct / len(test_loader.dataset)
    print(f"\\nTest set: Avg. loss: {test_loss:.4f}, Accuracy: {correct}/{len(test_loader.dataset)} "
          f"({accuracy:.2f}%)\\n")
    return accuracy


def load_mnist(data_dir, train, transform, download):
    try:
        return torchvision.datasets.MNIST(data_dir, train=train, download=download, transform=transform)
    except RuntimeError as error:  # torchvision's "Dataset not found"
        raise SystemExit(f"{error} Put MNIST's four IDX files in {Path(data_dir) / 'MNIST' / 'raw'}, "
                         "or run with --download.") from error
'''


def _optimizer(recipe: Recipe) -> str:
    """make_optimizer, as recipe.build_optimizer builds it."""
    decay = ", weight_decay=weight_decay" if recipe.weight_decay else ""
    if recipe.optimizer == "adam":
        call = f"optim.Adam(network.parameters(), lr=learning_rate{decay})"
    elif recipe.optimizer == "adamw":  # the app passes its decay, 0 included, over AdamW's own default of 0.01
        call = f"optim.AdamW(network.parameters(), lr=learning_rate, weight_decay={'weight_decay' if decay else 0.0})"
    else:
        nesterov = ", nesterov=True" if recipe.nesterov else ""
        call = f"optim.SGD(network.parameters(), lr=learning_rate, momentum=momentum{nesterov}{decay})"
    return f"def make_optimizer(network):\n{INDENT}return {call}"


def _scheduler(recipe: Recipe) -> str:
    """make_scheduler, as recipe.build_scheduler builds it; nothing for a constant rate."""
    if recipe.schedule == "constant":
        return ""
    if recipe.schedule == "onecycle":
        call = (f"optim.lr_scheduler.OneCycleLR(\n{INDENT * 2}optimizer, max_lr=learning_rate, total_steps=total_steps, "
                f"pct_start={ONECYCLE_WARMUP_FRACTION!r},\n{INDENT * 2}div_factor={ONECYCLE_START_DIVISOR!r}, "
                f"final_div_factor={ONECYCLE_FINAL_DIVISOR!r}, cycle_momentum=False,\n{INDENT})")
    else:
        call = f"optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps, eta_min={COSINE_FINAL_LEARNING_RATE!r})"
    return (f"def make_scheduler(optimizer, total_steps):\n"
            f'{INDENT}"""The learning rate over one run of total_steps steps: step it after every optimizer.step()."""\n'
            f"{INDENT}return {call}")


def _main(recipe: Recipe) -> str:
    scheduled = recipe.schedule != "constant"
    scheduler = f"\n{INDENT}scheduler = make_scheduler(optimizer, total_steps=args.epochs * len(train_loader))" \
        if scheduled else ""
    train_call = ("train(network, device, train_loader, optimizer, scheduler, epoch)" if scheduled
                  else "train(network, device, train_loader, optimizer, epoch)")
    return f'''def main():
    parser = argparse.ArgumentParser(description="Train the network exported from the MNIST dashboard.")
    parser.add_argument("--epochs", type=int, default=n_epochs, help="passes over the training images")
    parser.add_argument("--data-dir", default="./data", help="the folder holding MNIST/raw (torchvision's layout)")
    parser.add_argument("--download", action="store_true", help="download MNIST into --data-dir first")
    parser.add_argument("--limit-train", type=int, default=None, metavar="N",
                        help="train on N randomly chosen training images only, for a quick check")
    parser.add_argument("--results-dir", default="./results", help="where model.pth and optimizer.pth are saved")
    args = parser.parse_args()

    device = pick_device()
    train_set = load_mnist(args.data_dir, True, train_transform, args.download)
    test_set = load_mnist(args.data_dir, False, test_transform, args.download)
    if args.limit_train is not None:  # its own generator: the initial weights stay the app's
        chosen = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(random_seed))
        train_set = torch.utils.data.Subset(train_set, chosen[:args.limit_train].tolist())
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size_train, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=batch_size_test, shuffle=False)

    torch.manual_seed(random_seed)  # right before building, as the app does: the same initial weights
    network = Net().to(device)
    optimizer = make_optimizer(network){scheduler}

    results = Path(args.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    test(network, device, test_loader)  # before training, as the tutorial does
    for epoch in range(1, args.epochs + 1):
        {train_call}
        test(network, device, test_loader)
        torch.save(network.state_dict(), results / "model.pth")
        torch.save(optimizer.state_dict(), results / "optimizer.pth")


if __name__ == "__main__":
    main()'''
