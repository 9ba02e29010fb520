"""Caser (Tang & Wang, WSDM 2018): convolutional sequence embedding for top-N sequential recommendation.

Same layers, initialisation and defaults as rank_distill's `caser.py` (nv=2, nh=16, dropout 0.5, identity
activation after the horizontal convolutions, sigmoid after the fully connected layer). The item table has one
extra row, index `num_items`, for left padding of short sequences; the output table W2/b2 scores only real items.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "iden": lambda x: x,
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigm": torch.sigmoid,
}


class Caser(nn.Module):
    def __init__(
        self,
        num_users: int,
        num_items: int,
        d: int,
        L: int,
        nh: int = 16,
        nv: int = 2,
        dropout: float = 0.5,
        ac_conv: str = "iden",
        ac_fc: str = "sigm",
    ) -> None:
        super().__init__()
        self.num_items = num_items
        self.ac_conv, self.ac_fc = ACTIVATIONS[ac_conv], ACTIVATIONS[ac_fc]
        self.user_embeddings = nn.Embedding(num_users, d)
        self.item_embeddings = nn.Embedding(num_items + 1, d)  # + padding row
        self.conv_v = nn.Conv2d(1, nv, (L, 1))  # vertical: weighted sums over the L items
        self.conv_h = nn.ModuleList(nn.Conv2d(1, nh, (h, d)) for h in range(1, L + 1))  # union-level patterns
        self.fc1 = nn.Linear(nv * d + nh * L, d)
        self.dropout = nn.Dropout(dropout)
        # Output weights are per item embeddings, so training scores only the sampled items.
        self.W2 = nn.Embedding(num_items, 2 * d)
        self.b2 = nn.Embedding(num_items, 1)
        for table in (self.user_embeddings, self.item_embeddings, self.W2):
            table.weight.data.normal_(0, 1.0 / table.embedding_dim)
        self.b2.weight.data.zero_()

    def query(self, seq: torch.Tensor, user: torch.Tensor) -> torch.Tensor:
        """The (B, 2d) representation of (user, last L items) that every item score is a dot product with."""
        # The convolutions are computed as matrix products on the same Conv2d parameters (identical result):
        # a (h, d) kernel over an (L, d) image is a linear map of each window of h rows, and this runs 2-3x
        # faster than mkldnn's convolution backward on CPU.
        embs = self.item_embeddings(seq)  # (B, L, d)
        B, L, d = embs.shape
        w_v = self.conv_v.weight.view(-1, L)  # (nv, L)
        out_v = (torch.matmul(w_v, embs) + cast(torch.Tensor, self.conv_v.bias)[:, None]).flatten(
            1
        )  # (B, nv*d), as conv_v(.).view
        out_h = []
        for h, module in enumerate(self.conv_h, start=1):
            conv = cast(nn.Conv2d, module)
            windows = embs.unfold(1, h, 1).transpose(2, 3).reshape(B, L - h + 1, h * d)
            out = self.ac_conv(F.linear(windows, conv.weight.view(conv.out_channels, -1), conv.bias))
            out_h.append(out.amax(1))  # max-pool over time
        z = self.ac_fc(self.fc1(self.dropout(torch.cat([out_v, *out_h], 1))))
        return torch.cat([z, self.user_embeddings(user)], 1)

    def score(self, x: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores (B, N) of items (B, N) for queries x (B, 2d) from `query`."""
        return torch.baddbmm(self.b2(items), self.W2(items), x.unsqueeze(2)).squeeze(2)

    def forward(
        self, seq: torch.Tensor, user: torch.Tensor, items: torch.Tensor, return_query: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Scores (B, N) of items (B, N) for the queries (seq (B, L), user (B,)); with `return_query`, also the
        query representation (what ranking distillation scores its sampled items against)."""
        x = self.query(seq, user)
        scores = self.score(x, items)
        return (scores, x) if return_query else scores

    def score_all(self, seq: torch.Tensor, user: torch.Tensor) -> torch.Tensor:
        """Scores (B, num_items) of every item."""
        return torch.addmm(self.b2.weight.squeeze(1), self.query(seq, user), self.W2.weight.t())
