#!/usr/bin/env python3
"""Generate PyTorch parity fixtures for petseg.

Each op case stores float32 inputs, the seed gradient, PyTorch's output and the gradient of every
input, base64-encoded little-endian. The tests read the JSON; they never need Python.

    pip install torch==2.13.0          # installs offline on the project machines
    python3 scripts/make_fixtures.py   # rewrites test/fixtures/{core-ops,layers,tiny-train}.json

core-ops.json: elementwise, reductions, layout, matmul, an MLP loss, leaky ReLU.
layers.json: conv2d, conv-transpose2d, batchnorm2d, maxpool2d, BCE with logits, Adam, Dice/IoU.
tiny-train.json: conv-BN-ReLU-maxpool-convT-concat-conv-BCE trained 50 Adam steps.
"""
import base64
import json
import pathlib

import torch

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures"
OUT = FIXTURES / "core-ops.json"


def enc(t):
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": base64.b64encode(t.numpy().astype("<f4").tobytes()).decode()}


def sample(shape, domain, gen):
    x = torch.randn(shape, generator=gen, dtype=torch.float32)
    if domain == "positive":
        return 0.5 + 1.5 * torch.rand(shape, generator=gen)
    if domain == "binary":
        return (torch.rand(shape, generator=gen) < 0.5).float()
    if domain == "integers":
        return torch.randint(0, 4, shape, generator=gen).float()
    if domain == "awayFromZero":
        return torch.sign(x + (x == 0).float()) * (0.5 + 1.5 * torch.rand(shape, generator=gen))
    return x


def run_case(op, attrs, shapes, fn, gen, domains=None, data_inputs=()):
    domains = domains or ["normal"] * len(shapes)
    inputs = [sample(s, d, gen).requires_grad_(i not in data_inputs) for i, (s, d) in enumerate(zip(shapes, domains))]
    out = fn(*inputs)
    grad_out = torch.randn(out.shape, generator=gen, dtype=torch.float32)
    out.backward(grad_out)
    return {
        "op": op,
        "attrs": attrs,
        "inputs": [enc(x) for x in inputs],
        "grad_output": enc(grad_out),
        "output": enc(out),
        "grads": [enc(x.grad) if x.grad is not None else None for x in inputs],
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

    # Ops added later draw from their own generator, so the cases above keep their values.
    later = torch.Generator().manual_seed(20261204)
    for shape in [[1], [1, 3, 5, 7], [2, 13, 9, 11]]:
        for slope in [0.01, 0.2]:
            cases.append(run_case("leakyRelu", {"negativeSlope": slope}, [shape], lambda x: torch.nn.functional.leaky_relu(x, slope), later))

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"generator": "scripts/make_fixtures.py", "torch": torch.__version__, "cases": cases}) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")
    layers()
    tiny_train()


def layers():
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(20261124)
    cases = []
    convs = [
        ([1, 3, 9, 9], [5, 3, 3, 3], 1, 1, True),  # 3x3/s1/p1 (UNet)
        ([2, 13, 7, 6], [5, 13, 3, 3], 1, 1, False),
        ([1, 3, 17, 15], [4, 3, 7, 7], 2, 3, False),  # 7x7/s2/p3 (ResNet stem)
        ([2, 5, 9, 9], [3, 5, 3, 3], 2, 1, True),  # 3x3/s2/p1
        ([2, 13, 7, 7], [5, 13, 1, 1], 2, 0, False),  # 1x1/s2 (downsample)
        ([1, 5, 8, 8], [1, 5, 1, 1], 1, 0, True),  # 1x1/s1 (head)
    ]
    for x, w, stride, padding, bias in convs:
        shapes = [x, w, [w[0]]] if bias else [x, w]
        cases.append(run_case("conv2d", {"stride": stride, "padding": padding}, shapes,
                              lambda *a, s=stride, p=padding: F.conv2d(*a, stride=s, padding=p), gen))
    for x, w, stride, padding, out_pad, bias in [
        ([1, 4, 5, 5], [4, 3, 2, 2], 2, 0, 0, True),  # 2x2/s2 (UNet up-sampling)
        ([2, 13, 3, 4], [13, 5, 2, 2], 2, 0, 0, False),
        ([2, 3, 4, 5], [3, 5, 3, 3], 2, 1, 1, True),  # general stride/kernel
    ]:
        shapes = [x, w, [w[1]]] if bias else [x, w]
        cases.append(run_case("convTranspose2d", {"stride": stride, "padding": padding, "outputPadding": out_pad}, shapes,
                              lambda *a, s=stride, p=padding, o=out_pad: F.conv_transpose2d(*a, stride=s, padding=p, output_padding=o), gen))
    for x in [[2, 5, 4, 3], [1, 13, 5, 7], [3, 3, 9, 11]]:
        c = x[1]
        rm0 = torch.randn(c, generator=gen)
        rv0 = torch.rand(c, generator=gen) + 0.5
        for training in (True, False):
            rm, rv = rm0.clone(), rv0.clone()
            case = run_case("batchNorm2d", {"training": training, "runningMean": rm0.tolist(), "runningVar": rv0.tolist()}, [x, [c], [c]],
                            lambda t, w, b: F.batch_norm(t, rm, rv, w, b, training=training, momentum=0.1, eps=1e-5), gen)
            case["attrs"]["runningMeanAfter"] = rm.tolist()
            case["attrs"]["runningVarAfter"] = rv.tolist()
            cases.append(case)
    for x in [[1, 3, 8, 8], [2, 5, 7, 9], [1, 13, 9, 9]]:
        for k, st, p in [(2, 2, 0), (3, 2, 1)]:
            for domain in ("normal", "integers"):
                cases.append(run_case("maxPool2d", {"kernelSize": k, "stride": st, "padding": p}, [x],
                                      lambda t, k=k, st=st, p=p: F.max_pool2d(t, k, st, p), gen, [domain]))
    for shape, pos_weight in [([2, 1, 5, 7], None), ([2, 1, 5, 7], 3.0), ([4, 1, 32, 33], None)]:
        pw = None if pos_weight is None else torch.tensor([pos_weight])
        cases.append(run_case("bceWithLogits", {"posWeight": pos_weight or 1.0}, [shape, shape],
                              lambda x, t, pw=pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw), gen, ["normal", "binary"], data_inputs=(1,)))
    big = torch.tensor([[-100.0, 100.0, -100.0, 100.0, -30.0, 30.0, 0.0]]).requires_grad_(True)
    tgt = torch.tensor([[0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]])
    out = F.binary_cross_entropy_with_logits(big, tgt)
    g = torch.ones_like(out)
    out.backward(g)
    cases.append({"op": "bceWithLogits", "attrs": {"posWeight": 1.0}, "inputs": [enc(big), enc(tgt)], "grad_output": enc(g),
                  "output": enc(out), "grads": [enc(big.grad), None]})

    adam_cases = []
    for decoupled in (False, True):
        p = torch.randn(41, generator=gen).requires_grad_(True)
        p0 = p.detach().clone()
        cls = torch.optim.AdamW if decoupled else torch.optim.Adam
        opt = cls([p], lr=1e-2, weight_decay=0.1 if decoupled else 1e-4)
        grads = []
        for _ in range(5):
            gr = torch.randn(41, generator=gen)
            grads.append(enc(gr))
            p.grad = gr.clone()
            opt.step()
        st = opt.state[p]
        adam_cases.append({"decoupled": decoupled, "lr": 1e-2, "weightDecay": 0.1 if decoupled else 1e-4, "initial": enc(p0), "grads": grads,
                           "final": enc(p), "m": enc(st["exp_avg"]), "v": enc(st["exp_avg_sq"])})

    logits = torch.randn(6, 1, 11, 13, generator=gen)
    target = (torch.rand(6, 1, 11, 13, generator=gen) < 0.4).float()
    logits[2] = -4.0
    target[2] = 0.0
    metric_cases = []
    for threshold in (0.5, 0.25):
        pred = (torch.sigmoid(logits) > threshold).float()
        inter = (pred * target).sum(dim=(1, 2, 3))
        total = pred.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3))
        dice = torch.where(total == 0, torch.ones_like(total), 2 * inter / total.clamp(min=1))
        iou = torch.where(total == 0, torch.ones_like(total), inter / (total - inter).clamp(min=1))
        metric_cases.append({"threshold": threshold, "dice": dice.tolist(), "iou": iou.tolist()})

    path = FIXTURES / "layers.json"
    path.write_text(json.dumps({"generator": "scripts/make_fixtures.py", "torch": torch.__version__, "cases": cases, "adam": adam_cases,
                                "metrics": {"logits": enc(logits), "target": enc(target), "cases": metric_cases}}) + "\n")
    print(f"wrote {len(cases)} layer cases to {path}")


class TinyNet(torch.nn.Module):
    """conv -> BN -> ReLU -> maxpool -> convT -> concat(skip) -> 1x1 conv: every layer type of UNet."""

    def __init__(self):
        super().__init__()
        # No bias before BN: BN cancels it, so its gradient is pure rounding noise that Adam would amplify.
        self.conv1 = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(4)
        self.up = torch.nn.ConvTranspose2d(4, 4, 2, stride=2)
        self.head = torch.nn.Conv2d(8, 1, 1)

    def forward(self, x):
        skip = torch.relu(self.bn1(self.conv1(x)))
        down = torch.nn.functional.max_pool2d(skip, 2)
        return self.head(torch.cat([self.up(down), skip], 1))


def tiny_train():
    torch.manual_seed(7)
    net = TinyNet()
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(2, 3, 8, 10, generator=gen)
    target = (torch.rand(2, 1, 8, 10, generator=gen) < 0.5).float()
    initial = {k: enc(v) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-4)
    losses = []
    for _ in range(50):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    final = {k: enc(v) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = FIXTURES / "tiny-train.json"
    path.write_text(json.dumps({"generator": "scripts/make_fixtures.py", "torch": torch.__version__, "lr": 1e-2, "weightDecay": 1e-4, "steps": 50,
                                "x": enc(x), "target": enc(target), "initial": initial, "final": final, "losses": losses}) + "\n")
    print(f"wrote 50-step training fixture to {path}")


if __name__ == "__main__":
    main()
