#!/usr/bin/env python3
"""Generate PyTorch parity fixtures for petseg's core ops.

Each case stores float32 inputs, the seed gradient, PyTorch's output and the gradient of every
input, base64-encoded little-endian. The tests read the JSON; they never need Python.

    pip install torch==2.13.0   # installs offline on the project machines
    python3 scripts/make_fixtures.py   # rewrites test/fixtures/core-ops.json
"""
import base64
import json
import pathlib

import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "core-ops.json"


def enc(t):
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": base64.b64encode(t.numpy().astype("<f4").tobytes()).decode()}


def sample(shape, domain, gen):
    x = torch.randn(shape, generator=gen, dtype=torch.float32)
    if domain == "positive":
        return 0.5 + 1.5 * torch.rand(shape, generator=gen)
    if domain == "awayFromZero":
        return torch.sign(x + (x == 0).float()) * (0.5 + 1.5 * torch.rand(shape, generator=gen))
    return x


def run_case(op, attrs, shapes, fn, gen, domains=None):
    domains = domains or ["normal"] * len(shapes)
    inputs = [sample(s, d, gen).requires_grad_(True) for s, d in zip(shapes, domains)]
    out = fn(*inputs)
    grad_out = torch.randn(out.shape, generator=gen, dtype=torch.float32)
    out.backward(grad_out)
    return {
        "op": op,
        "attrs": attrs,
        "inputs": [enc(x) for x in inputs],
        "grad_output": enc(grad_out),
        "output": enc(out),
        "grads": [enc(x.grad) for x in inputs],
    }


def main():
    gen = torch.Generator().manual_seed(20261123)
    cases = []
    unary = {
        "neg": lambda x: -x,
        "relu": torch.relu,
        "sigmoid": torch.sigmoid,
        "exp": torch.exp,
        "log": torch.log,
    }
    for shape in [[1], [1, 3, 5, 7], [2, 13, 9, 11]]:
        for name, fn in unary.items():
            cases.append(run_case(name, {}, [shape], fn, gen, ["positive"] if name == "log" else None))
        for name, s, fn in [
            ("addScalar", 2.5, lambda x: x + 2.5),
            ("subScalar", 0.75, lambda x: x - 0.75),
            ("rsubScalar", 3.0, lambda x: 3.0 - x),
            ("mulScalar", -1.5, lambda x: x * -1.5),
            ("divScalar", 3.0, lambda x: x / 3.0),
        ]:
            cases.append(run_case(name, {"scalar": s}, [shape], fn, gen))
    # Saturating logits: sigmoid must stay finite with finite gradients.
    big = torch.tensor([-100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0]).requires_grad_(True)
    out = torch.sigmoid(big)
    g = torch.ones_like(out)
    out.backward(g)
    cases.append({"op": "sigmoid", "attrs": {}, "inputs": [enc(big)], "grad_output": enc(g), "output": enc(out), "grads": [enc(big.grad)]})

    binary = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
    for a, b in [([2, 3, 5, 7], [2, 3, 5, 7]), ([2, 5, 9, 7], [1, 5, 1, 1]), ([3, 13, 5, 5], [13, 1, 1]), ([1, 7], [5, 1]), ([4, 3], [])]:
        for name, fn in binary.items():
            cases.append(run_case(name, {}, [a, b], fn, gen, ["normal", "awayFromZero"] if name == "div" else None))

    for shape, axes, keep in [
        ([1, 3, 5, 7], None, False),
        ([2, 13, 9, 11], [0, 2, 3], True),
        ([2, 13, 9, 11], [1], False),
        ([2, 20001], [1], False),
    ]:
        dims = axes if axes is not None else list(range(len(shape)))
        cases.append(run_case("sum", {"axes": axes, "keepDim": keep}, [shape], lambda x: x.sum(dim=dims, keepdim=keep), gen))
        cases.append(run_case("mean", {"axes": axes, "keepDim": keep}, [shape], lambda x: x.mean(dim=dims, keepdim=keep), gen))

    cases.append(run_case("concat", {"axis": 1}, [[2, 3, 4, 5], [2, 5, 4, 5], [2, 13, 4, 5]], lambda *xs: torch.cat(xs, 1), gen))
    cases.append(run_case("concat", {"axis": 0}, [[1, 3, 5], [2, 3, 5]], lambda *xs: torch.cat(xs, 0), gen))
    cases.append(run_case("narrow", {"axis": 1, "start": 3, "length": 5}, [[2, 13, 5, 7]], lambda x: x.narrow(1, 3, 5), gen))
    # split: the pieces are concatenated back in reverse, so one output carries every piece's gradient.
    cases.append(
        run_case("splitReversed", {"sizes": [2, 3, 4], "axis": 1}, [[2, 9, 3]], lambda x: torch.cat(list(reversed(torch.split(x, [2, 3, 4], 1))), 1), gen)
    )
    cases.append(run_case("reshape", {"shape": [6, -1]}, [[2, 3, 4]], lambda x: x.reshape(6, -1), gen))
    for a, b in [([5, 7], [7, 3]), ([17, 33], [33, 19]), ([1, 1], [1, 1])]:
        cases.append(run_case("matmul", {}, [a, b], torch.matmul, gen))

    # End to end: a two-layer perceptron with a BCE loss written from the core ops.
    def mlp(x, w1, b1, w2, b2):
        h = torch.relu(x @ w1 + b1)
        p = torch.sigmoid(h @ w2 + b2)
        y = (torch.arange(x.shape[0]) % 2).float().reshape(-1, 1)
        return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()

    cases.append(run_case("mlpBce", {}, [[9, 5], [5, 13], [13], [13, 1], [1]], mlp, gen))

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"generator": "scripts/make_fixtures.py", "torch": torch.__version__, "cases": cases}) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
