#!/usr/bin/env python3
"""Load a petseg checkpoint into the PyTorch definition with strict=True and print its eval logits
for a fixed input (used by test/checkpoint.test.ts when PyTorch is installed).

    python3 scripts/check_torch_load.py CHECKPOINT.safetensors
"""
import json
import pathlib
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models" / "pytorch"))
sys.path.insert(0, str(ROOT / "scripts"))
from definitions import UNet, ResNet34_UNet  # noqa: E402
from make_model_fixtures import fixture_values  # noqa: E402

path = sys.argv[1]
with safe_open(path, "pt") as f:
    info = json.loads(f.metadata()["petseg"])
options = info["options"]
model = UNet(base_channels=options.get("baseChannels", 64)) if info["model"] == "UNet" else ResNet34_UNet()
model.load_state_dict(load_file(path), strict=True)
model.eval()
x = torch.from_numpy(fixture_values(5, 3 * 32 * 32).reshape(1, 3, 32, 32))
with torch.no_grad():
    print(json.dumps({"model": info["model"], "logits": model(x).flatten().tolist()}))
