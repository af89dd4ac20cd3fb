"""PyTorch CPU figures for the conv rows of a petseg bench report, for the "fraction of the
hardware" comparison: for every conv2d row of `npm run bench -- --json FILE`, the same forward,
grad-input and grad-weight in PyTorch (float32, this machine's threads), median of repeated runs.
Prints a table, medians per kind and, when the report has them, the adapter's multiply-add
ceiling (bench/ceiling.ts) as a fraction of PyTorch's rate: the most any WGSL kernel could reach
there. With --json OUT, writes the rows with petseg's GFLOP/s as a fraction of PyTorch's. Not used
by the tests.

usage: python3 scripts/bench_pytorch.py BENCH.json [--repeats 5] [--json OUT]
"""
import argparse
import json
import re
import statistics
import time

import torch


def median_ms(fn, repeats):
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("report")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    report = json.load(open(args.report))
    rows = []
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; petseg on {report['adapterName']}")
    print("op | shape | PyTorch GFLOP/s | petseg GFLOP/s | petseg / PyTorch")
    for row in report["kernels"]:
        if not row["op"].startswith("conv2d"):
            continue
        m = re.match(r"x (\S+) w (\S+) s(\d+) p(\d+)", row["shape"])
        x_shape = [int(v) for v in m.group(1).split("×")]
        w_shape = [int(v) for v in m.group(2).split("×")]
        stride, padding = int(m.group(3)), int(m.group(4))
        x = torch.randn(x_shape)
        w = torch.randn(w_shape)
        y = torch.nn.functional.conv2d(x, w, stride=stride, padding=padding)
        dy = torch.randn(y.shape)
        with torch.no_grad():
            if row["op"] == "conv2d forward":
                fn = lambda: torch.nn.functional.conv2d(x, w, stride=stride, padding=padding)
            elif row["op"] == "conv2d grad-input":
                fn = lambda: torch.nn.grad.conv2d_input(x_shape, w, dy, stride=stride, padding=padding)
            else:
                fn = lambda: torch.nn.grad.conv2d_weight(x, w_shape, dy, stride=stride, padding=padding)
            ms = median_ms(fn, args.repeats)
        torch_gflops = row["flops"] / ms / 1e6
        petseg_gflops = row["flops"] / row["petseg"]["median"] / 1e6
        rows.append({"op": row["op"], "shape": row["shape"], "pytorch_ms": ms, "pytorch_gflops": torch_gflops, "petseg_gflops": petseg_gflops, "fraction": petseg_gflops / torch_gflops})
        print(f"{row['op']} | {row['shape']} | {torch_gflops:.1f} | {petseg_gflops:.2f} | {petseg_gflops / torch_gflops:.3f}")
    fractions = [r["fraction"] for r in rows]
    summary = {}
    if fractions:
        print(f"median fraction of PyTorch: {statistics.median(fractions):.3f}")
        for op in sorted({r["op"] for r in rows}):
            of_op = [r for r in rows if r["op"] == op]
            summary[op] = {key: statistics.median(r[key] for r in of_op) for key in ("pytorch_gflops", "petseg_gflops", "fraction")}
            print(f"{op}: PyTorch {summary[op]['pytorch_gflops']:.1f} GFLOP/s, petseg {summary[op]['petseg_gflops']:.2f} ({summary[op]['fraction']:.3f}) median")
        ceiling = report.get("ceilings", {}).get("mulAddGflops")
        if ceiling:
            # The most any WGSL kernel could reach on this adapter, as a fraction of PyTorch.
            torch_median = statistics.median(r["pytorch_gflops"] for r in rows)
            summary["ceiling"] = {"mul_add_gflops": ceiling, "fraction_of_pytorch": ceiling / torch_median}
            print(f"adapter multiply-add ceiling {ceiling:.1f} GFLOP/s = {ceiling / torch_median:.3f} of PyTorch's median conv rate ({torch_median:.1f} GFLOP/s)")
    if args.json:
        json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows, "summary": summary}, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
