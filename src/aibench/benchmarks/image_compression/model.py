"""Toderici et al. 2017's recurrent codec (encoder, binarizer, decoder, additive residual coding) and an
entropy-coding network that predicts each bit's probability from the codes of earlier iterations.

Layer sizes follow the paper's Figure 1 (as in the public PyTorch port by 1zb, pytorch-image-comp-rnn):

    encoder: conv 3x3/2 3->64; ConvLSTM 3x3/2 64->256; ConvLSTM 3x3/2 256->512; ConvLSTM 3x3/2 512->512
    binarizer: conv 1x1 512->32, tanh, binarize to {-1, 1} (32 bits per 16x16 pixels)
    decoder: conv 1x1 32->512; ConvLSTM 512->512, depth-to-space 2; ConvLSTM 128->512, depth-to-space 2;
             ConvLSTM 128->256, depth-to-space 2; ConvLSTM 64->128, depth-to-space 2; conv 1x1 32->3, tanh / 2

A ConvLSTM's input convolution is 3x3 (stride 2 in the encoder), its hidden-state convolution 1x1, except the
decoder's last two, whose hidden convolutions are 3x3 (as in the paper's Figure 1).
Each of the `iterations` passes encodes what the previous passes have not yet reconstructed (the residual), and
the reconstruction is the sum of the decoder's outputs ("additive" reconstruction). A 32x32 patch gives 2x2
positions of 32 bits: 128 bits, 0.125 bits per pixel per iteration, 2 bpp after 16 iterations before entropy
coding.

The binarizer is the paper's: in training, b = 1 with probability (1 + x) / 2 and -1 otherwise (stochastic
rounding, whose expectation is x), at evaluation b = sign(x); both pass the gradient straight through.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

BITS = 32  # bits per 16x16-pixel position per iteration


class ConvLSTMCell(nn.Module):
    def __init__(self, cin: int, hidden: int, kernel: int = 3, stride: int = 1, hidden_kernel: int = 1) -> None:
        super().__init__()
        self.hidden = hidden
        self.ih = nn.Conv2d(cin, 4 * hidden, kernel, stride, kernel // 2, bias=False)
        self.hh = nn.Conv2d(hidden, 4 * hidden, hidden_kernel, 1, hidden_kernel // 2, bias=True)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        gates = self.ih(x)
        if state is None:
            h = gates.new_zeros(gates.shape[0], self.hidden, *gates.shape[2:])
            c = torch.zeros_like(h)
        else:
            h, c = state
        i, f, g, o = (gates + self.hh(h)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


State = list[tuple[torch.Tensor, torch.Tensor] | None]


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.rnn = nn.ModuleList(
            [ConvLSTMCell(64, 256, stride=2), ConvLSTMCell(256, 512, stride=2), ConvLSTMCell(512, 512, stride=2)]
        )

    def forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        x = self.conv(x)
        new: State = []
        for cell, s in zip(self.rnn, state, strict=True):
            h, c = cell(x, s)
            new.append((h, c))
            x = h
        return x, new


class Binarizer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(512, BITS, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.conv(x))
        if self.training:
            b = torch.where(torch.rand_like(x) < (1 + x) / 2, 1.0, -1.0)
        else:
            b = torch.where(x >= 0, 1.0, -1.0)
        return x + (b - x).detach()  # straight-through gradient


class Decoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(BITS, 512, 1, bias=False)
        self.rnn = nn.ModuleList(
            [
                ConvLSTMCell(512, 512),
                ConvLSTMCell(128, 512),
                ConvLSTMCell(128, 256, hidden_kernel=3),
                ConvLSTMCell(64, 128, hidden_kernel=3),
            ]
        )
        self.conv2 = nn.Conv2d(32, 3, 1, bias=False)

    def forward(self, b: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        x = self.conv1(b)
        new: State = []
        for cell, s in zip(self.rnn, state, strict=True):
            h, c = cell(x, s)
            new.append((h, c))
            x = F.pixel_shuffle(h, 2)  # depth-to-space
        return torch.tanh(self.conv2(x)) / 2, new


class RecurrentCodec(nn.Module):
    """Encoder, binarizer and decoder run `iterations` times on the residual of a batch of patches in [0, 1]."""

    def __init__(self, iterations: int) -> None:
        super().__init__()
        self.iterations = iterations
        self.encoder, self.binarizer, self.decoder = Encoder(), Binarizer(), Decoder()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction in [0, 1], codes N x iterations x 32 x H/16 x W/16 in {-1, 1}, training loss).

        The loss is the mean absolute residual after each iteration, averaged over the iterations (the paper's
        L1 loss on the residuals)."""
        x = images - 0.5
        residual, output = x, torch.zeros_like(x)
        enc: State = [None] * 3
        dec: State = [None] * 4
        codes, losses = [], []
        for _ in range(self.iterations):
            encoded, enc = self.encoder(residual, enc)
            bits = self.binarizer(encoded)
            decoded, dec = self.decoder(bits, dec)
            output = output + decoded
            residual = x - output
            codes.append(bits)
            losses.append(residual.abs().mean())
        return output + 0.5, torch.stack(codes, dim=1), torch.stack(losses).mean()


class EntropyModel(nn.Module):
    """The probability of every bit of iteration k given the codes of iterations 1..k-1 (a ConvLSTM over the
    iterations, 3x3 convolutions, so each bit also sees the neighbouring positions of earlier iterations).
    Its cross-entropy in bits is the code's length under arithmetic coding with these probabilities."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.cell = ConvLSTMCell(BITS, hidden, kernel=3, hidden_kernel=3)
        self.out = nn.Conv2d(hidden, BITS, 1)
        self.first = nn.Parameter(torch.zeros(1, BITS, 1, 1))  # logits of iteration 1's bits

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """Bits (cross-entropy, base 2) of each sample's code; `codes` is N x K x 32 x h x w in {-1, 1}."""
        n, k = codes.shape[:2]
        bits01 = (codes > 0).float()
        logits = [self.first.expand(n, -1, *codes.shape[3:])]
        state = None
        for it in range(k - 1):
            state = self.cell(codes[:, it], state)
            logits.append(self.out(state[0]))
        nats = F.binary_cross_entropy_with_logits(torch.stack(logits, 1), bits01, reduction="none")
        return nats.flatten(1).sum(1) / math.log(2)
