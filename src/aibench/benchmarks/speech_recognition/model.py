"""DeepSpeech2 (Amodei et al. 2016) as deepspeech.pytorch (SeanNaren) builds it, written anew.

Input: a (B, 1, F, T) spectrogram (F frequency bins, T frames of 10 ms). Two 2D convolutions with BatchNorm and
Hardtanh(0, 20): 32 channels of 41x11 (frequency x time), stride (2, 2), padding (20, 5); then 32 of 21x11, stride
(2, 1), padding (10, 5). After each convolution, outputs past an utterance's length are zeroed (the reference's
MaskConv), so an utterance's output does not depend on the padding its batch gave it. The channels and remaining
frequency rows are flattened into one feature vector per frame (32 x 41 = 1312 at the reference's 161 bins), and
five bidirectional LSTM layers (hidden 1024 at full) run over the frames, each row within its length (as packing
by length would); the two directions' outputs are summed. Layers 2-5 take a sequence-wise BatchNorm of their input
first (the first does not). Then a sequence-wise BatchNorm and a fully connected layer without bias give logits
over 29 characters ('_' the CTC blank, apostrophe, A-Z, space). The reference's lookahead convolution serves only
the unidirectional model.
"""

from __future__ import annotations

import torch
from torch import nn

CONV_LAYERS = (  # (kernel (freq, time), stride, padding) of the reference's two convolutions
    ((41, 11), (2, 2), (20, 5)),
    ((21, 11), (2, 1), (10, 5)),
)


def conv_frequency_bins(n_freq: int) -> int:
    """Frequency rows left after the two convolutions (41 of the reference's 161)."""
    for (kernel, _), (stride, _), (pad, _) in ((c[0], c[1], c[2]) for c in CONV_LAYERS):
        n_freq = (n_freq + 2 * pad - kernel) // stride + 1
    return n_freq


def output_lengths(lengths: torch.Tensor) -> torch.Tensor:
    """Frames after the convolutions' time strides (the reference's get_seq_lens)."""
    for (_, kernel), (_, stride), (_, pad) in ((c[0], c[1], c[2]) for c in CONV_LAYERS):
        lengths = (lengths + 2 * pad - (kernel - 1) - 1) // stride + 1
    return lengths


class SequenceBatchNorm(nn.Module):
    """BatchNorm1d over every frame of a (T, B, H) sequence (the reference's SequenceWise(BatchNorm1d))."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        t, b, h = x.shape
        if mask is None or bool(mask.all()):
            return self.norm(x.reshape(t * b, h)).reshape(t, b, h)
        # Statistics over real frames only, so padding does not shift them (the reference includes padding).
        flat, keep = x.reshape(t * b, h), mask.reshape(t * b)
        out = torch.zeros_like(flat)
        out[keep] = self.norm(flat[keep])
        return out.reshape(t, b, h)


def reverse_within_lengths(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """(T, B, H) with each row's first lengths[b] frames in reverse order; its padding stays where it is."""
    if lengths is None:
        return x.flip(0)
    t = torch.arange(x.shape[0], device=x.device)[:, None]
    n = lengths.to(x.device)[None, :]
    index = torch.where(t < n, n - 1 - t, t)
    return x.gather(0, index[:, :, None].expand_as(x))


class BatchRNN(nn.Module):
    """A bidirectional LSTM layer whose two directions are summed.

    The directions run as two unidirectional LSTMs over the padded batch, the backward one over each row reversed
    within its length. A frame's output is exactly the packed bidirectional LSTM's (the reference's): the forward
    pass reaches a row's padding only after its last real frame, the backward pass only after its first. Packing
    would cost O(T^2) on a CPU, where autograd zero-fills the whole input for each time step's slice.
    """

    def __init__(self, input_size: int, hidden_size: int, batch_norm: bool) -> None:
        super().__init__()
        self.batch_norm = SequenceBatchNorm(input_size) if batch_norm else None
        self.forward_rnn = nn.LSTM(input_size, hidden_size)
        self.backward_rnn = nn.LSTM(input_size, hidden_size)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
        if self.batch_norm is not None:
            x = self.batch_norm(x, mask)
        ahead, _ = self.forward_rnn(x)
        behind, _ = self.backward_rnn(reverse_within_lengths(x, lengths))
        return ahead + reverse_within_lengths(behind, lengths)


class DeepSpeech2(nn.Module):
    def __init__(
        self, n_freq: int, n_classes: int = 29, hidden_size: int = 1024, hidden_layers: int = 5, conv_channels: int = 32
    ) -> None:
        super().__init__()
        blocks = []
        in_channels = 1
        for kernel, stride, padding in CONV_LAYERS:
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(in_channels, conv_channels, kernel, stride, padding),
                    nn.BatchNorm2d(conv_channels),
                    nn.Hardtanh(0, 20),
                )
            )
            in_channels = conv_channels
        self.conv = nn.ModuleList(blocks)
        rnn_input = conv_channels * conv_frequency_bins(n_freq)
        self.rnns = nn.ModuleList(
            BatchRNN(rnn_input if i == 0 else hidden_size, hidden_size, batch_norm=i > 0) for i in range(hidden_layers)
        )
        self.fc_norm = SequenceBatchNorm(hidden_size)
        self.fc = nn.Linear(hidden_size, n_classes, bias=False)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (T', B, classes) for spectrograms x (B, 1, F, T) whose rows hold `lengths` frames (a CPU tensor;
        None when every row fills all T), and the rows' output lengths (None with None)."""
        for block, ((_, kt), (_, st), (_, pt)) in zip(
            self.conv, ((c[0], c[1], c[2]) for c in CONV_LAYERS), strict=True
        ):
            x = block(x)
            if lengths is not None:
                # Zero the frames past each utterance's end after each convolution block (the reference's MaskConv).
                lengths = (lengths + 2 * pt - (kt - 1) - 1) // st + 1
                frames = torch.arange(x.shape[3], device=x.device)
                keep = frames[None, :] < lengths.to(x.device)[:, None]
                x = x * keep.to(x.dtype)[:, None, None, :]
        b, c, f, t = x.shape
        seq = x.reshape(b, c * f, t).permute(2, 0, 1).contiguous()  # (T, B, C*F): one feature vector per frame
        mask = None if lengths is None else torch.arange(t, device=x.device)[:, None] < lengths.to(x.device)[None, :]
        for rnn in self.rnns:
            seq = rnn(seq, lengths, mask)
        return self.fc(self.fc_norm(seq, mask)), lengths
