"""Train one BlinkNet reference model, export it to ONNX and record it in the zoo manifest.

    tools/train/.venv/bin/python tools/train/train.py --model lenet5-mnist [--epochs N] [--seed S]

Steps: train on the model's train split (CPU, 2 threads), export
``libs/zoo/models/<name>.onnx`` (opset 13, dynamic batch, input ``input``,
output ``logits``), check onnxruntime against torch, measure the test
accuracy of the exported file with onnxruntime and update
``libs/zoo/models/manifest.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data  # noqa: E402
from models import MODELS, ModelSpec, count_parameters  # noqa: E402

ZOO_DIR = data.REPO_ROOT / "libs" / "zoo" / "models"
MANIFEST = ZOO_DIR / "manifest.json"
OPSET = 13
MAX_IR_VERSION = 8
THREADS = 2
EVAL_BATCH = 500
DEFAULT_SEED = 2022


@dataclass(frozen=True)
class Recipe:
    optimizer: str  # "adam" or "sgd"
    lr: float  # peak learning rate of the one-cycle schedule
    weight_decay: float
    batch_size: int
    shift: int  # random translation of up to +-shift pixels
    hflip: bool  # random horizontal flips


RECIPES: dict[str, Recipe] = {
    "lenet5-mnist": Recipe("adam", 3e-3, 0.0, 64, 2, False),
    "cifar10quick-fmnist": Recipe("adam", 2e-3, 0.0, 128, 2, True),
    "vgg-fmnist": Recipe("sgd", 0.1, 5e-4, 128, 2, True),
}


def augment(images: np.ndarray, recipe: Recipe, rng: np.random.Generator) -> np.ndarray:
    """Random translation (zero fill) and horizontal flip of uint8 [B, 28, 28] images."""
    out = images
    b, h, w = images.shape
    if recipe.shift:
        s = recipe.shift
        padded = np.pad(images, ((0, 0), (s, s), (s, s)))
        dy = rng.integers(0, 2 * s + 1, size=b)
        dx = rng.integers(0, 2 * s + 1, size=b)
        rows = dy[:, None] + np.arange(h)[None, :]
        cols = dx[:, None] + np.arange(w)[None, :]
        out = padded[np.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]
    if recipe.hflip:
        flip = rng.random(b) < 0.5
        out = out.copy()
        out[flip] = out[flip, :, ::-1]
    return out


def train(
    spec: ModelSpec, recipe: Recipe, epochs: int, seed: int
) -> tuple[nn.Module, float]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_train, y_train = data.load(spec.dataset, "train")
    x_test, y_test = data.load(spec.dataset, "test")
    model = spec.build()
    print(f"{spec.name}: {len(x_train)} train / {len(x_test)} test samples, "
          f"{count_parameters(model)} torch parameters (before export)")

    if recipe.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(
            model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay
        )
    else:
        opt = torch.optim.SGD(
            model.parameters(), lr=recipe.lr, momentum=0.9, nesterov=True,
            weight_decay=recipe.weight_decay,
        )
    steps_per_epoch = (len(x_train) + recipe.batch_size - 1) // recipe.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=recipe.lr, epochs=epochs, steps_per_epoch=steps_per_epoch, pct_start=0.25
    )
    loss_fn = nn.CrossEntropyLoss()

    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        order = rng.permutation(len(x_train))
        total_loss = 0.0
        correct = 0
        for k in range(steps_per_epoch):
            idx = order[k * recipe.batch_size : (k + 1) * recipe.batch_size]
            xb = data.preprocess(augment(x_train[idx], recipe, rng), spec.channels, spec.pad)
            xb_t = torch.from_numpy(xb)
            yb_t = torch.from_numpy(y_train[idx])
            logits = model(xb_t)
            loss = loss_fn(logits, yb_t)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb_t).sum())
        test_acc = torch_accuracy(model, spec, x_test, y_test)
        print(
            f"epoch {epoch + 1}/{epochs}: loss {total_loss / len(x_train):.4f} "
            f"train acc {correct / len(x_train):.4f} test acc {test_acc:.4f} "
            f"({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
    # Per-epoch test evaluation is monitoring only; it is included in the time.
    seconds = time.perf_counter() - start
    model.eval()
    return model, seconds


@torch.no_grad()
def torch_accuracy(model: nn.Module, spec: ModelSpec, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    correct = 0
    for k in range(0, len(x), EVAL_BATCH):
        xb = torch.from_numpy(data.preprocess(x[k : k + EVAL_BATCH], spec.channels, spec.pad))
        correct += int((model(xb).argmax(1).numpy() == y[k : k + EVAL_BATCH]).sum())
    return correct / len(x)


def export(model: nn.Module, spec: ModelSpec, path: Path) -> onnx.ModelProto:
    model.eval()
    dummy = torch.zeros(1, spec.channels, spec.size, spec.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The TorchScript exporter (dynamo=False) is deliberate: it emits a plain opset-13 graph.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            dynamo=False,
            export_params=True,
            opset_version=OPSET,
            do_constant_folding=True,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
    proto = onnx.load(str(path))
    if proto.ir_version > MAX_IR_VERSION:
        proto.ir_version = MAX_IR_VERSION
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))  # one self-contained file, no external data
    return proto


def session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnx_parameters(proto: onnx.ModelProto) -> int:
    total = 0
    for init in proto.graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT:
            raise ValueError(f"unexpected non-float initializer {init.name}")
        total += int(np.prod(init.dims, dtype=np.int64))
    return total


def check_against_torch(model: nn.Module, sess: ort.InferenceSession, spec: ModelSpec,
                        x: np.ndarray) -> float:
    worst = 0.0
    for batch in (x[:1], x[1:65]):
        xb = data.preprocess(batch, spec.channels, spec.pad)
        with torch.no_grad():
            expected = model(torch.from_numpy(xb)).numpy()
        got = sess.run(["logits"], {"input": xb})[0]
        if got.shape != expected.shape:
            raise AssertionError(f"onnx output shape {got.shape} != torch {expected.shape}")
        worst = max(worst, float(np.abs(got - expected).max()))
    if worst > 1e-4:
        raise AssertionError(f"onnxruntime differs from torch by {worst:g}")
    return worst


def onnx_accuracy(sess: ort.InferenceSession, spec: ModelSpec, x: np.ndarray, y: np.ndarray) -> float:
    correct = 0
    for k in range(0, len(x), EVAL_BATCH):
        xb = data.preprocess(x[k : k + EVAL_BATCH], spec.channels, spec.pad)
        logits = sess.run(["logits"], {"input": xb})[0]
        correct += int((logits.argmax(1) == y[k : k + EVAL_BATCH]).sum())
    return correct / len(x)


def update_manifest(name: str, entry: dict) -> None:
    manifest = {"models": {}}
    if MANIFEST.exists():
        manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    models = dict(manifest.get("models", {}))
    models[name] = entry
    manifest["models"] = {k: models[k] for k in sorted(models)}
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, choices=sorted(MODELS))
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()

    torch.set_num_threads(THREADS)
    spec = MODELS[args.model]
    recipe = RECIPES[args.model]
    epochs = args.epochs if args.epochs is not None else spec.default_epochs

    model, seconds = train(spec, recipe, epochs, args.seed)
    torch_params = count_parameters(model)

    path = ZOO_DIR / f"{spec.name}.onnx"
    proto = export(model, spec, path)
    params = onnx_parameters(proto)
    ops = sorted({n.op_type for n in proto.graph.node})

    x_test, y_test = data.load(spec.dataset, "test")
    sess = session(path)
    diff = check_against_torch(model, sess, spec, x_test)
    accuracy = onnx_accuracy(sess, spec, x_test, y_test)

    blob = path.read_bytes()
    entry = {
        "file": path.name,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "bytes": len(blob),
        "parameters": params,
        "architecture": spec.architecture,
        "dataset": spec.dataset,
        "input": {"name": "input", "channels": spec.channels, "pad": spec.pad, "size": spec.size},
        "output": "logits",
        "classes": spec.classes,
        "testSplit": "test",
        "testSamples": int(len(x_test)),
        "testAccuracy": accuracy,
        "seed": args.seed,
        "epochs": epochs,
        "trainingSeconds": round(seconds, 1),
        "command": (
            f"tools/train/.venv/bin/python tools/train/train.py --model {spec.name} "
            f"--epochs {epochs} --seed {args.seed}"
        ),
        "opset": OPSET,
        "torch": torch.__version__,
    }
    update_manifest(spec.name, entry)

    print(f"exported {path.relative_to(data.REPO_ROOT)} ({len(blob)} bytes, ir_version {proto.ir_version})")
    print(f"ops: {', '.join(ops)}")
    print(f"parameters: {params} in ONNX initializers, {torch_params} trainable in torch")
    print(f"onnxruntime vs torch max |diff|: {diff:.3g}")
    print(f"test accuracy (onnxruntime, {len(x_test)} samples): {accuracy:.4f}")
    print(f"training time: {seconds:.1f} s")


if __name__ == "__main__":
    main()
