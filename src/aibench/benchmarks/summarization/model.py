"""The attentional encoder-decoder RNN of Nallapati et al. (2016), words in and words out.

Encoder: a word embedding and a one-layer bidirectional GRU over the article (packed, so padding changes nothing).
Bridge: the decoder's initial state is tanh(W [h_fwd; h_bwd]) of the encoder's final states. Decoder: a one-layer
GRU over the embedded headline prefix, with Luong et al.'s (2015) global "general" attention on every encoder
output: score(h_t, s_i) = h_t^T W_a s_i (padding masked), context c_t = sum_i a_ti s_i, attentional state
h~_t = tanh(W_c [c_t; h_t]), logits = W_o h~_t. One embedding matrix serves the article and the headline (they share
the vocabulary). Without input feeding the decoder's recurrence does not depend on the attention, so teacher-forced
training runs the decoder GRU over the whole prefix in one call and attends for all positions at once; greedy
decoding runs the same modules one step at a time.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Seq2SeqAttention(nn.Module):
    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, pad_id: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.encoder = nn.GRU(embed_size, hidden_size, 1, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden_size, hidden_size)
        self.decoder = nn.GRU(embed_size, hidden_size, 1, batch_first=True)
        self.attn_key = nn.Linear(2 * hidden_size, hidden_size, bias=False)  # W_a of the "general" score
        self.combine = nn.Linear(3 * hidden_size, hidden_size, bias=False)  # W_c
        self.out = nn.Linear(hidden_size, vocab_size)  # W_o
        self.dropout = nn.Dropout(dropout)

    def encode(
        self, src: torch.Tensor, lengths: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encoder outputs (B, S, 2H), their attention keys (B, S, H) and the decoder's initial state (1, B, H).

        `lengths` (on the CPU) are the articles' token counts; None means every row fills all S positions (the
        model probe, on the meta device, where packing cannot read lengths)."""
        x = self.dropout(self.embed(src))
        if lengths is None:
            outputs, final = self.encoder(x)
        else:
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            packed_out, final = self.encoder(packed)
            outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=src.shape[1])
        state = torch.tanh(self.bridge(torch.cat([final[0], final[1]], -1))).unsqueeze(0)
        return outputs, self.attn_key(outputs), state

    def attend(
        self, hidden: torch.Tensor, outputs: torch.Tensor, keys: torch.Tensor, src_mask: torch.Tensor
    ) -> torch.Tensor:
        """Logits (B, T, V) from decoder states (B, T, H) attending over the encoder outputs."""
        scores = torch.bmm(hidden, keys.transpose(1, 2))  # (B, T, S)
        scores = scores.masked_fill(src_mask.unsqueeze(1), float("-inf"))
        context = torch.bmm(torch.softmax(scores, -1), outputs)  # (B, T, 2H)
        attentional = torch.tanh(self.combine(torch.cat([context, hidden], -1)))
        return self.out(self.dropout(attentional))

    def forward(self, src: torch.Tensor, lengths: torch.Tensor | None, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) for decoder inputs tgt_in (<s> w1 ... wn)."""
        outputs, keys, state = self.encode(src, lengths)
        hidden, _ = self.decoder(self.dropout(self.embed(tgt_in)), state)
        return self.attend(hidden, outputs, keys, src == self.pad_id)

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, lengths: torch.Tensor | None, bos: int, eos: int, max_len: int) -> torch.Tensor:
        """(B, <= max_len) greedy ids; positions after a row's </s> hold </s> too."""
        outputs, keys, state = self.encode(src, lengths)
        mask = src == self.pad_id
        token = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        steps = []
        for _ in range(max_len):
            hidden, state = self.decoder(self.embed(token), state)
            token = self.attend(hidden, outputs, keys, mask).argmax(-1)  # (B, 1)
            token = torch.where(done.unsqueeze(1), torch.full_like(token, eos), token)
            steps.append(token)
            done |= token[:, 0] == eos
            if bool(done.all()):
                break
        return torch.cat(steps, 1)
