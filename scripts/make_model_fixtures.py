#!/usr/bin/env python3
"""Model parity fixtures: petseg's UNet and ResNet34_UNet against models/pytorch/definitions.py.

Both sides fill every state entry from the same counter-based hash (no weights are committed:
see fixture_values below and its TypeScript twin in test/helpers/fixture-weights.ts), run a
2x3x64x64 input in eval and train mode, and backpropagate a BCE loss. The fixture keeps the
logits and the loss (float32, as PyTorch computes them), and per parameter its gradient's L2 norm
and 4 random projections (so a 31M-parameter gradient is checked without committing it).

Gradients of deep BatchNorm/ReLU stacks are ill-conditioned in float32 (a ReLU input within
rounding of 0 flips its mask; BatchNorm bias gradients are sums with heavy cancellation):
PyTorch's own float32 gradients of UNet-64 here differ from its float64 ones by up to ~1e-2.
So the gradient reference is PyTorch in float64; "torchFp32Error" records how far PyTorch's
float32 result is from it, for comparison.

    pip install torch==2.13.0
    pip install safetensors
    python3 scripts/make_model_fixtures.py    # writes test/fixtures/models.json and torch-unet2.*

torch-unet2.safetensors is a UNet(base_channels=2) saved by safetensors.torch (no petseg
metadata), with its eval-mode logits in torch-unet2.json: the PyTorch -> petseg direction of
checkpoint interop.
"""
import base64
import copy
import json
import pathlib
import sys

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models" / "pytorch"))
from definitions import UNet, ResNet34_UNet  # noqa: E402

M32 = 0xFFFFFFFF


def fixture_values(seed, n):
    """n values in [-1, 1): a murmur3-style finaliser of (seed * golden + i), exact in uint32."""
    x = (np.arange(n, dtype=np.uint64) + np.uint64((seed * 0x9E3779B1) & M32)) & np.uint64(M32)
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x85EBCA6B)
    x ^= x >> np.uint32(13)
    x *= np.uint32(0xC2B2AE35)
    x ^= x >> np.uint32(16)
    return ((x >> np.uint32(8)).astype(np.float64) / 16777216.0 * 2.0 - 1.0).astype(np.float32)


def scaled(name, shape, seed):
    n = int(np.prod(shape)) if len(shape) else 1
    h = fixture_values(seed, n).reshape(shape)
    if name.endswith("running_var"):
        return 1.25 + 0.25 * h
    if name.endswith("running_mean"):
        return 0.1 * h
    if len(shape) == 1 and ("bn" in name or ".block." in name or "downsample.1" in name):
        return (1.0 + 0.1 * h) if name.endswith("weight") else 0.1 * h
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else None
    return h / np.sqrt(fan_in) if fan_in else 0.1 * h


def fill(model):
    keys = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    with torch.no_grad():
        state = model.state_dict()
        for i, k in enumerate(keys):
            state[k].copy_(torch.from_numpy(scaled(k, tuple(state[k].shape), i + 1)))
    return keys


def enc(t):
    return base64.b64encode(t.detach().contiguous().numpy().astype("<f4").tobytes()).decode()


def projections(g, index):
    g = g.double().flatten()
    return np.array([float(g.norm())] + [float((g * torch.from_numpy(fixture_values(100000 + 1000 * j + index, g.numel())).double()).sum()) for j in range(4)])


def train_grads(model, x, target, dtype):
    model = copy.deepcopy(model).to(dtype).train()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x.to(dtype)), target.to(dtype))
    loss.backward()
    return {k: p.grad for k, p in model.named_parameters()}


def run(name, options, model):
    keys = fill(model)
    x = torch.from_numpy(fixture_values(424242, 2 * 3 * 64 * 64).reshape(2, 3, 64, 64))
    target = torch.from_numpy((fixture_values(77, 2 * 64 * 64) > 0).astype(np.float32).reshape(2, 1, 64, 64))
    exact = train_grads(model, x, target, torch.float64)
    model.eval()
    with torch.no_grad():
        logits_eval = model(x)
    model.train()
    logits_train = model(x)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits_train, target)
    loss.backward()
    params = dict(model.named_parameters())
    grads = []
    for i, k in enumerate(keys):
        if k not in params:
            continue
        ref = projections(exact[k], i)
        fp32 = projections(params[k].grad, i)
        grads.append({"name": k, "norm": ref[0], "projections": list(ref[1:]),
                      "torchFp32Error": float(np.abs(fp32 - ref).max() / np.abs(ref).max())})
    print(f"{name} {options}: {sum(p.numel() for p in model.parameters()):,} parameters, loss {loss.item():.6f}")
    return {
        "model": name,
        "options": options,
        "parameterCount": sum(p.numel() for p in model.parameters()),
        "stateKeys": list(model.state_dict().keys()),
        "logitsEval": enc(logits_eval),
        "logitsTrain": enc(logits_train),
        "loss": loss.item(),
        "grads": grads,
    }


def main():
    torch.manual_seed(0)
    cases = [
        run("UNet", {"baseChannels": 8}, UNet(base_channels=8)),
        run("UNet", {"baseChannels": 64}, UNet(base_channels=64)),
        run("ResNet34_UNet", {}, ResNet34_UNet()),
    ]
    out = ROOT / "test" / "fixtures" / "models.json"
    out.write_text(json.dumps({"generator": "scripts/make_model_fixtures.py", "torch": torch.__version__, "cases": cases}) + "\n")
    print(f"wrote {out}")
    export_small_unet()


def export_small_unet():
    from safetensors.torch import save_file

    torch.manual_seed(1)
    model = UNet(base_channels=2)
    with torch.no_grad():  # non-trivial running statistics, so eval mode is really tested
        for name, t in model.state_dict().items():
            if name.endswith("running_mean"):
                t.copy_(0.1 * torch.randn_like(t))
            elif name.endswith("running_var"):
                t.copy_(1 + 0.2 * torch.rand_like(t))
    model.eval()
    x = torch.from_numpy(fixture_values(5, 3 * 32 * 32).reshape(1, 3, 32, 32))
    with torch.no_grad():
        logits = model(x)
    save_file(model.state_dict(), str(ROOT / "test" / "fixtures" / "torch-unet2.safetensors"))
    (ROOT / "test" / "fixtures" / "torch-unet2.json").write_text(json.dumps({"inputSeed": 5, "shape": [1, 3, 32, 32], "logits": enc(logits)}) + "\n")
    print("wrote torch-unet2.safetensors")


if __name__ == "__main__":
    main()
