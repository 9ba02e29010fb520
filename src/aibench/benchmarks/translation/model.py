"""The Transformer of Vaswani et al. (2017) on `torch.nn.Transformer`, with the paper's shared embeddings.

Post-norm layers (the paper's), sinusoidal positions, one embedding matrix shared by the encoder input, the
decoder input and the pre-softmax projection (3.4: the source and target share a BPE vocabulary), embeddings
scaled by sqrt(d_model). `torch.nn.Transformer` also normalizes the output of each stack, as tensor2tensor's
implementation does; the layer structure is otherwise the paper's.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoids(length: int, d_model: int) -> torch.Tensor:
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)
    return table


class Transformer(nn.Module):
    positions: torch.Tensor

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        ffn: int,
        heads: int,
        encoder_layers: int,
        decoder_layers: int,
        dropout: float,
        pad_id: int,
        max_positions: int = 1024,
    ) -> None:
        super().__init__()
        self.d_model, self.pad_id = d_model, pad_id
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        nn.init.normal_(self.embed.weight, 0.0, d_model**-0.5)  # so that embed * sqrt(d) has unit scale
        with torch.no_grad():
            self.embed.weight[pad_id].zero_()
        self.register_buffer("positions", sinusoids(max_positions, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.transformer = nn.Transformer(
            d_model,
            heads,
            encoder_layers,
            decoder_layers,
            ffn,
            dropout,
            batch_first=True,
            norm_first=False,
        )
        # The nested-tensor fast path of the encoder would change padded outputs' layout between train and eval.
        self.transformer.encoder.enable_nested_tensor = False
        self.transformer.encoder.use_nested_tensor = False

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids) * math.sqrt(self.d_model) + self.positions[: ids.shape[1]]
        return self.dropout(x)

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        return self.transformer.encoder(self._embed(src), src_key_padding_mask=src == self.pad_id)

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        """Logits over the vocabulary at every decoder position (causal: position t sees tgt_in[:, :t+1])."""
        causal = nn.Transformer.generate_square_subsequent_mask(tgt_in.shape[1], device=tgt_in.device, dtype=torch.bool)
        h = self.transformer.decoder(
            self._embed(tgt_in),
            memory,
            tgt_mask=causal,
            tgt_is_causal=True,
            tgt_key_padding_mask=tgt_in == self.pad_id,
            memory_key_padding_mask=src == self.pad_id,
        )
        return h @ self.embed.weight.t()

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        return self.decode(tgt_in, self.encode(src), src)

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, bos: int, eos: int, max_len: int) -> torch.Tensor:
        """Greedy decoding of a batch: (batch, <= max_len) ids, each row padded after its </s>."""
        memory = self.encode(src)
        out = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            nxt = self.decode(out, memory, src)[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, self.pad_id), nxt)
            out = torch.cat([out, nxt[:, None]], 1)
            done |= nxt == eos
            if bool(done.all()):
                break
        return out[:, 1:]
