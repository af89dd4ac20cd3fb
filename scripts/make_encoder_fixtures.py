#!/usr/bin/env python3
"""Encoder-import fixture: a ResNet34 with torchvision's module names, in PyTorch.

torchvision does not import here, so the network is assembled below with torchvision's names
(conv1, bn1, layer1-4 of BasicBlocks with downsample.0/.1, fc). Its whole state dict —
the classifier and num_batches_tracked included — is filled from the counter-based hash of
make_model_fixtures.py (seed offset 5000, so it differs from any model fixture), the way
test/helpers/fixture-weights.ts fills it in TypeScript, so no 87 MB weight file is committed.
The fixture keeps, for a 2x3x32x32 input in eval mode, the feature map of every stage (stem
after its ReLU, layer1-layer4), and a SHA-256 over every tensor's name, dtype, shape and bytes,
which the test recomputes over the safetensors file it writes from the same hash: the file it
imports holds exactly the tensors safetensors.torch.save_file would have written.

    python3 scripts/make_encoder_fixtures.py                       # test/fixtures/resnet34-encoder.json
    python3 scripts/make_encoder_fixtures.py --save resnet34.safetensors   # also the weight file itself
"""
import argparse
import hashlib
import json
import pathlib
import sys

import numpy as np
import torch
from torch import nn

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models" / "pytorch"))
sys.path.insert(0, str(ROOT / "scripts"))
from definitions import ResNet34_UNet  # noqa: E402
import make_model_fixtures  # noqa: E402
from make_model_fixtures import enc, fixture_values  # noqa: E402

SEED_OFFSET = 5000
BATCHES_TRACKED = 1234


class ResNet34(nn.Module):
    """torchvision.models.resnet34's structure and state-dict names: the encoder modules of
    definitions.ResNet34_UNet (which uses torchvision's names) and the classifier."""

    def __init__(self):
        super().__init__()
        unet = ResNet34_UNet()
        for name in ("conv1", "bn1", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            setattr(self, name, getattr(unet, name))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, 1000)

    def stages(self, x):
        """The stem after its ReLU, then layer1-layer4."""
        out = [torch.relu(self.bn1(self.conv1(x)))]
        h = self.maxpool(out[0])
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            out.append(h := layer(h))
        return out


def scaled_exact(name, shape, seed):
    """make_model_fixtures.scaled evaluated in float64 and rounded once to float32, as the
    TypeScript twin computes it (numpy scales float32 arrays in float32), so the tensors agree
    bit for bit and the digest can be checked."""
    original = make_model_fixtures.fixture_values
    make_model_fixtures.fixture_values = lambda s, n: original(s, n).astype(np.float64)
    try:
        return np.asarray(make_model_fixtures.scaled(name, shape, seed), dtype=np.float64).astype(np.float32)
    finally:
        make_model_fixtures.fixture_values = original


def fill(model):
    with torch.no_grad():
        index = 0
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                t.fill_(BATCHES_TRACKED)
                continue
            index += 1
            t.copy_(torch.from_numpy(scaled_exact(name, tuple(t.shape), SEED_OFFSET + index)))


def state_digest(state):
    """SHA-256 over name, dtype, shape and little-endian bytes of every tensor, names sorted."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].contiguous()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        h.update(f"{name}|{dtype}|{list(t.shape)}|".encode())
        h.update(t.numpy().astype("<f4" if dtype == "F32" else "<i8").tobytes())
    return h.hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--save", help="also write the weights as a safetensors file here")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = ResNet34()
    fill(model)
    model.eval()
    state = model.state_dict()
    x = torch.from_numpy(fixture_values(77, 2 * 3 * 32 * 32).reshape(2, 3, 32, 32) * 2.0)
    with torch.no_grad():
        features = model.stages(x)
    names = ["stem", "layer1", "layer2", "layer3", "layer4"]
    fixture = {
        "seedOffset": SEED_OFFSET,
        "batchesTracked": BATCHES_TRACKED,
        "keys": list(state.keys()),
        "digest": state_digest(state),
        "input": {"shape": list(x.shape), "data": enc(x)},
        "features": {n: {"shape": list(f.shape), "data": enc(f)} for n, f in zip(names, features)},
    }
    out = ROOT / "test" / "fixtures" / "resnet34-encoder.json"
    out.write_text(json.dumps(fixture) + "\n")
    print(f"wrote {out} ({len(state)} tensors, digest {fixture['digest'][:12]}…)")
    if args.save:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, args.save)
        print(f"wrote {args.save}")


if __name__ == "__main__":
    main()
