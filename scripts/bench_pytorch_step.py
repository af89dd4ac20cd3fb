"""PyTorch figures for the end-to-end rows of `npm run bench`: one training step (forward, BCE
with logits, backward, Adam with weight decay) and one inference of the lab's UNet and
ResNet34_UNet (models/pytorch/definitions.py, the same layers as petseg's), float32 with TF32
off, on CUDA when present (else CPU). Median of repeated, synchronised steps after warm-up.
`--tf32` adds the rows in PyTorch's default mode on CUDA, whose convolutions round their
operands to TF32 on tensor cores (`torch.backends.cudnn.allow_tf32 = True`). `--amp` adds the
same rows under torch.autocast (float16) with a GradScaler — the counterpart of petseg's
`--mixed` rows. Each row names its `mode`: fp32, tf32 or amp. Not used by the tests
(`petseg gpu-check` runs it where Python has torch).

usage: python3 scripts/bench_pytorch_step.py [--img_size 256] [--batch_size 8]
           [--base_channels 64] [--models UNet,ResNet34_UNet] [--repeats 10] [--tf32] [--amp] [--json OUT]
"""
import argparse
import json
import pathlib
import statistics
import sys
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models" / "pytorch"))
from definitions import UNet, ResNet34_UNet  # noqa: E402


def median_ms(fn, repeats, warmup, sync):
    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--img_size", type=int, default=256)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--base_channels", type=int, default=64)
    parser.add_argument("--models", default="UNet,ResNet34_UNet")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--tf32", action="store_true", help="also the rows in PyTorch's default CUDA mode (TF32 convolutions)")
    parser.add_argument("--amp", action="store_true", help="also the rows under torch.autocast(float16) with a GradScaler")
    parser.add_argument("--json")
    args = parser.parse_args()

    # fp32 as petseg computes: no TF32 tensor-core rounding.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"PyTorch {torch.__version__} on {where}; fp32 (TF32 off), {args.img_size}×{args.img_size}, batch {args.batch_size}")

    torch.manual_seed(0)
    x = torch.randn(args.batch_size, 3, args.img_size, args.img_size, device=device)
    target = (torch.rand(args.batch_size, 1, args.img_size, args.img_size, device=device) > 0.5).float()
    rows = []
    for name in args.models.split(","):
        model = (UNet(base_channels=args.base_channels) if name == "UNet" else ResNet34_UNet()).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
        loss_fn = torch.nn.BCEWithLogitsLoss()

        scaler = torch.amp.GradScaler(device.type)

        def step():
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), target)
            loss.backward()
            optimizer.step()

        def amp_step():
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.float16):
                loss = loss_fn(model(x), target)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

        def infer():
            with torch.no_grad():
                model(x)

        def amp_infer():
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.float16):
                model(x)

        measured = []
        modes = [("fp32", "", step, infer)]
        if args.tf32:
            modes.append(("tf32", " (tf32)", step, infer))
        if args.amp:
            modes.append(("amp", " (mixed)", amp_step, amp_infer))
        for mode, suffix, train_fn, infer_fn in modes:
            # TF32 only where asked for: the fp32 rows compute as petseg does.
            torch.backends.cudnn.allow_tf32 = mode == "tf32"
            model.train()
            measured.append((mode, "training step" + suffix, median_ms(train_fn, args.repeats, args.warmup, sync)))
            model.eval()
            measured.append((mode, "inference" + suffix, median_ms(infer_fn, args.repeats, args.warmup, sync)))
        for mode, what, ms in measured:
            rows.append({"model": name, "what": what, "mode": mode, "images": args.batch_size, "ms": ms, "images_per_s": args.batch_size / ms * 1000})
            print(f"{name} {what}: {ms:.2f} ms ({args.batch_size / ms * 1000:.1f} images/s)")
    if args.json:
        json.dump({"pytorch": torch.__version__, "device": where, "config": vars(args), "rows": rows}, open(args.json, "w"), indent=2)


if __name__ == "__main__":
    main()
