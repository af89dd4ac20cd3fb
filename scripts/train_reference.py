"""PyTorch reference run for the real-data acceptance check: trains the same model definition
(models/pytorch/definitions.py) on the same preprocessed pixels (petseg's decode cache files:
"PSGCACHE1\\n", u32 header length, JSON header, uint8 images N·S·S·3, uint8 masks N·S·S) with the
lab's recipe — Adam lr 1e-3, weight decay 1e-4, BCEWithLogits, ImageNet normalisation, best
checkpoint by validation loss — and prints per-image mean Dice of the best model on an evaluation
cache file, as JSON. Not used by the tests.

usage: python3 scripts/train_reference.py TRAIN.bin VALID.bin EVAL.bin [--epochs 30] [--batch_size 8] [--base_channels 8] [--seed 0]
"""
import argparse
import copy
import json
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "models" / "pytorch"))
from definitions import UNet  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def read_cache(path):
    data = Path(path).read_bytes()
    magic = b"PSGCACHE1\n"
    assert data.startswith(magic), f"{path}: not a petseg cache file"
    (length,) = struct.unpack_from("<I", data, len(magic))
    header = json.loads(data[len(magic) + 4 : len(magic) + 4 + length])
    size, n = header["size"], len(header["names"])
    at = len(magic) + 4 + length
    images = np.frombuffer(data, np.uint8, n * size * size * 3, at).reshape(n, size, size, 3)
    masks = np.frombuffer(data, np.uint8, n * size * size, at + n * size * size * 3).reshape(n, 1, size, size)
    x = ((images.astype(np.float32) / 255 - MEAN) / STD).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(masks.astype(np.float32))


def dice_per_image(logits, masks, threshold=0.5):
    pred = (torch.sigmoid(logits) > threshold).float().flatten(1)
    gt = (masks > 0.5).float().flatten(1)
    inter = (pred * gt).sum(1)
    total = pred.sum(1) + gt.sum(1)
    return torch.where(total == 0, torch.ones_like(total), 2 * inter / total.clamp(min=1))


def evaluate(model, x, y, batch):
    model.eval()
    loss, dice = 0.0, []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(x[i : i + batch])
            loss += torch.nn.functional.binary_cross_entropy_with_logits(logits, y[i : i + batch]).item() * len(logits)
            dice.append(dice_per_image(logits, y[i : i + batch]))
    model.train()
    return loss / len(x), torch.cat(dice).mean().item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("valid")
    parser.add_argument("eval")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--base_channels", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    xt, yt = read_cache(args.train)
    xv, yv = read_cache(args.valid)
    xe, ye = read_cache(args.eval)
    model = UNet(base_channels=args.base_channels)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    best, best_loss, started = None, float("inf"), time.time()
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(xt))
        for i in range(0, len(xt), args.batch_size):
            idx = order[i : i + args.batch_size]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xt[idx]), yt[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        valid_loss, valid_dice = evaluate(model, xv, yv, args.batch_size)
        if valid_loss < best_loss:
            best_loss, best = valid_loss, copy.deepcopy(model.state_dict())
        print(f"epoch {epoch}: valid loss {valid_loss:.4f} dice {valid_dice:.4f}", file=sys.stderr)
    model.load_state_dict(best)
    eval_loss, eval_dice = evaluate(model, xe, ye, args.batch_size)
    print(json.dumps({"dice": eval_dice, "loss": eval_loss, "best_valid_loss": best_loss, "seconds": time.time() - started, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
