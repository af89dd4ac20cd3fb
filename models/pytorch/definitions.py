"""PyTorch definitions of petseg's models, with the same parameter names and counts.

Use them to compare with petseg (scripts/make_model_fixtures.py) or to load petseg checkpoints:

    from safetensors.torch import load_file
    model = UNet(base_channels=64)
    model.load_state_dict(load_file("best.safetensors"), strict=True)
"""
import torch
from torch import nn


class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.block(x)


class UNet(nn.Module):
    def __init__(self, in_channels=3, base_channels=64):
        super().__init__()
        w = [base_channels * m for m in (1, 2, 4, 8, 16)]
        self.encoders = nn.ModuleList([DoubleConv(in_channels if i == 0 else w[i - 1], w[i]) for i in range(5)])
        self.pool = nn.MaxPool2d(2)
        dec = [w[3], w[2], w[1], w[0]]
        self.ups = nn.ModuleList([nn.ConvTranspose2d(2 * c, c, 2, stride=2) for c in dec])
        self.decoders = nn.ModuleList([DoubleConv(2 * c, c) for c in dec])
        self.head = nn.Conv2d(w[0], 1, 1)

    def forward(self, x):
        skips = []
        h = x
        for i, enc in enumerate(self.encoders):
            h = enc(h if i == 0 else self.pool(h))
            skips.append(h)
        skips.pop()
        for up, dec in zip(self.ups, self.decoders):
            h = dec(torch.cat([up(h), skips.pop()], 1))
        return self.head(h)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(h + (self.downsample(x) if self.downsample is not None else x))


class ResNet34_UNet(nn.Module):
    def __init__(self, in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = 64
        for s, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)]):
            layer = nn.Sequential(*[BasicBlock(cin if i == 0 else width, width, 2 if (i == 0 and s > 0) else 1) for i in range(blocks)])
            setattr(self, f"layer{s + 1}", layer)
            cin = width
        decoder = [(512, 256, 256), (256, 128, 128), (128, 64, 64), (64, 64, 64), (64, 32, 0)]
        self.ups = nn.ModuleList([nn.ConvTranspose2d(i, o, 2, stride=2) for i, o, _ in decoder])
        self.decoders = nn.ModuleList([DoubleConv(o + skip, o) for _, o, skip in decoder])
        self.head = nn.Conv2d(32, 1, 1)

    def forward(self, x):
        stem = torch.relu(self.bn1(self.conv1(x)))
        skips = [stem]
        h = self.maxpool(stem)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            h = layer(h)
            skips.append(h)
        skips.pop()
        for up, dec in zip(self.ups, self.decoders):
            u = up(h)
            skip = skips.pop() if skips else None
            h = dec(torch.cat([u, skip], 1) if skip is not None else u)
        return self.head(h)
