"""DC-AI-C17: ENAS (Pham et al. 2018), the recurrent-cell search on Penn Treebank, with shared weights.

Search space (the paper's recurrent cell): N nodes; node 1 mixes the input embedding x and the previous hidden
state h, c = sigmoid(x W_xc + h W_hc), h_1 = c * f(x W_xh + h W_hh) + (1 - c) * h; node j > 1 picks a previous
node i and an activation f in (tanh, ReLU, identity, sigmoid): c = sigmoid(h_i W_c^(j,i)),
h_j = c * f(h_i W_h^(j,i)) + (1 - c) * h_i; the cell's output (and next hidden state) is the mean of the loose ends
(nodes no other node reads). Every (j, i) pair owns its shared weights; embedding and decoder are tied.

The controller is an LSTM (100 hidden) that emits, per node, the previous node (node > 1) and the activation,
trained by REINFORCE with reward c / valid_ppl (c = 80) on a validation batch, a moving-average baseline (decay
0.95) and an entropy bonus (1e-4), Adam 3.5e-4. Shared weights: SGD lr 20, gradient norm clipped at 0.25,
BPTT 35, batch 64 (settings of carpedm20/ENAS-pytorch and the paper).

An epoch is one ENAS epoch of the alternating loop: one pass of shared-weight training over this rank's shard of
the training stream (each BPTT window under a freshly sampled cell), then `controller_steps` controller steps
(ENAS: 2000 at full; fewer at small, recorded). Under data parallelism every rank samples the same cell at each
step (a torch.Generator seeded from the session seed, epoch and step; the controller weights are the same under
DDP), and the reward is computed on a validation window that every rank sees, so it is the same on all ranks.

Quality: validation perplexity (exp of mean NLL per word, <eos> included) of the derived cell, evaluated with the
shared weights: `derive_samples` cells are sampled from the controller, the best on one validation window is kept.
An evaluation sample is one validation sentence, run from a zero hidden state (so samples are independent for
LoadGen); `infer` returns its [sum NLL, token count], `score` pools them, which is what evaluate() reports
(AccuracyOnly reports this same perplexity). The full target 100 is for the shared-weight search (ENAS's 56 needs
retraining the derived cell from scratch, which this benchmark does not do).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aibench.baselines import language_model as lm
from aibench.benchmarks.base import Baseline, Benchmark, ModelProbe, ProfileSettings, StepOutput
from aibench.benchmarks.quality import AtMost
from aibench.datasets.ptb import EOS, PTB, UNK, PtbParams, read_ptb
from aibench.metrics.language_model import corpus_perplexity
from aibench.registry import register

ACTIVATIONS = ("tanh", "relu", "identity", "sigmoid")


@dataclass(frozen=True)
class EnasOptions:
    hidden: int = 1000  # embedding = hidden (tied decoder)
    nodes: int = 12
    bptt: int = 35
    vocab: int = 10000  # for model_probe only; sessions use the data's vocabulary
    clip: float = 0.25
    controller_hidden: int = 100
    controller_lr: float = 3.5e-4
    controller_steps: int = 2000
    entropy_weight: float = 1e-4
    baseline_decay: float = 0.95
    reward_c: float = 80.0
    derive_samples: int = 10
    eval_batch: int = 64  # sentences per inference batch

    def __post_init__(self) -> None:
        if min(self.hidden, self.nodes, self.bptt, self.controller_hidden, self.derive_samples) < 1:
            raise ValueError("hidden, nodes, bptt, controller_hidden and derive_samples must be >= 1")


Arch = tuple[tuple[int, int], ...]  # per node: (previous node index, activation index); node 0's previous is -1


def _act(k: int, x: torch.Tensor) -> torch.Tensor:
    return (torch.tanh, torch.relu, lambda t: t, torch.sigmoid)[k](x)


class SharedRNN(nn.Module):
    """The weight-shared language model: embedding, the sampled cell, tied decoder."""

    def __init__(self, vocab: int, hidden: int, nodes: int) -> None:
        super().__init__()
        self.hidden, self.nodes = hidden, nodes
        self.embed = nn.Embedding(vocab, hidden)
        self.w_x = nn.Linear(hidden, 2 * hidden)
        self.w_h = nn.Linear(hidden, 2 * hidden, bias=False)
        self.edges = nn.ModuleList(
            nn.ModuleList(nn.Linear(hidden, 2 * hidden, bias=False) for _ in range(j)) for j in range(1, nodes)
        )
        self.decoder = nn.Linear(hidden, vocab)
        self.decoder.weight = self.embed.weight
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)

    def cell(self, x: torch.Tensor, h: torch.Tensor, arch: Arch) -> torch.Tensor:
        c, z = (self.w_x(x) + self.w_h(h)).chunk(2, -1)
        c = torch.sigmoid(c)
        states = [c * _act(arch[0][1], z) + (1 - c) * h]
        used = set()
        for j in range(1, self.nodes):
            i, a = arch[j]
            used.add(i)
            c, z = cast(nn.ModuleList, self.edges[j - 1])[i](states[i]).chunk(2, -1)
            c = torch.sigmoid(c)
            states.append(c * _act(a, z) + (1 - c) * states[i])
        loose = [s for k, s in enumerate(states) if k not in used]
        return torch.stack(loose).mean(0)

    def forward(self, tokens: torch.Tensor, h: torch.Tensor, arch: Arch) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T, V) of tokens (B, T) from hidden state h (B, H), and the last hidden state."""
        emb = self.embed(tokens)
        outs = []
        for t in range(tokens.shape[1]):
            h = self.cell(emb[:, t], h, arch)
            outs.append(h)
        return self.decoder(torch.stack(outs, 1)), h


class Controller(nn.Module):
    """LSTM controller: per node a previous-node choice (node > 0) and an activation choice."""

    def __init__(self, nodes: int, hidden: int = 100) -> None:
        super().__init__()
        self.nodes = nodes
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.act_embed = nn.Embedding(len(ACTIVATIONS), hidden)
        self.node_embed = nn.Embedding(nodes, hidden)
        self.act_head = nn.Linear(hidden, len(ACTIVATIONS))
        self.node_head = nn.Linear(hidden, nodes)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)

    def forward(self, generator: torch.Generator) -> tuple[Arch, torch.Tensor, torch.Tensor]:
        """A sampled cell, the sum of its decisions' log-probabilities and their entropy."""
        x: torch.Tensor = self.start
        state: tuple[torch.Tensor, torch.Tensor] | None = None
        log_prob = self.start.new_zeros(())
        entropy = self.start.new_zeros(())
        arch: list[tuple[int, int]] = []

        def decide(logits: torch.Tensor) -> int:
            nonlocal log_prob, entropy
            logp = F.log_softmax(logits, -1)
            choice = int(torch.multinomial(logp.detach().exp().cpu(), 1, generator=generator).item())
            log_prob = log_prob + logp[0, choice]
            entropy = entropy - (logp.exp() * logp).sum()
            return choice

        for j in range(self.nodes):
            prev = -1
            if j > 0:
                state = self.lstm(x, state)
                logits = self.node_head(state[0])[:, :j]
                prev = decide(logits)
                x = self.node_embed.weight[prev : prev + 1]
            state = self.lstm(x, state)
            act = decide(self.act_head(state[0]))
            x = self.act_embed.weight[act : act + 1]
            arch.append((prev, act))
        return tuple(arch), log_prob, entropy


def _ids(sentences: Sequence[Sequence[str]], index: Mapping[str, int]) -> list[list[int]]:
    unk = index[UNK]
    return [[index.get(w, unk) for w in s] for s in sentences]


def _baseline(kind: str) -> Any:
    def predict(bench: ArchitectureSearch) -> Mapping[int, np.ndarray]:
        fn = lm.unigram if kind == "unigram" else lm.bigram
        return fn(bench.sentences["train"], bench.sentences["valid"])

    return predict


@register("DC-AI-C17")
class ArchitectureSearch(Benchmark):
    dataset = PTB
    quality_metric = "perplexity"
    higher_is_better = False
    baselines = (
        Baseline("unigram", _baseline("unigram"), "add-one word frequencies"),
        Baseline("add-k bigram", _baseline("bigram"), "bigram counts with add-0.01 smoothing"),
    )
    profiles = {
        "full": ProfileSettings(
            batch_size=64,
            learning_rate=20.0,
            max_epochs=150,
            target=AtMost("perplexity", 100.0),
            convergent=AtMost("perplexity", 110.0),
            time_limit_s=7 * 24 * 3600,
            options=EnasOptions(),
        ),
        "small": ProfileSettings(
            batch_size=32,
            learning_rate=20.0,
            max_epochs=10,
            target=AtMost("perplexity", 345.0),
            convergent=AtMost("perplexity", 375.0),
            time_limit_s=900,
            data=PtbParams(vocab=10000, max_train_words=60000, max_valid_words=8000, max_test_words=8000),
            options=EnasOptions(hidden=128, controller_steps=20, derive_samples=5),
        ),
        "tiny": ProfileSettings(
            batch_size=4,
            learning_rate=20.0,
            max_epochs=2,
            target=AtMost("perplexity", 0.0),
            time_limit_s=120,
            data=PtbParams(vocab=300, max_train_words=1500, max_valid_words=200, max_test_words=200),
            options=EnasOptions(hidden=16, nodes=4, bptt=10, controller_steps=2, derive_samples=2, eval_batch=8),
        ),
    }

    def build(self) -> None:
        self.built = True  # models need the vocabulary: created in load_data (off the clock's critical part)

    def load_data(self) -> None:
        opts: EnasOptions = self.settings.options
        self.sentences = read_ptb(self.ctx.data_root)
        words = sorted({w for s in self.sentences["train"] for w in s} | {UNK})
        self.vocab = [EOS, *words]
        self.index = {w: i for i, w in enumerate(self.vocab)}
        eos = self.index[EOS]

        def stream(split: str) -> torch.Tensor:
            return torch.tensor([t for s in _ids(self.sentences[split], self.index) for t in [*s, eos]])

        b, ws = self.settings.batch_size, self.ctx.world_size
        train = stream("train")
        rows = b * ws
        steps = len(train) // rows
        self.train_rows = train[: steps * rows].view(rows, steps)[self.ctx.shard(rows)].to(self.device)
        valid = stream("valid")
        vrows = min(b, max(1, len(valid) // (opts.bptt + 1)))
        vsteps = len(valid) // vrows
        self.valid_rows = valid[: vsteps * vrows].view(vrows, vsteps).to(self.device)
        self.eval_ids = _ids(self.sentences["valid"], self.index)

        torch.manual_seed(self.ctx.seed)  # identical initial weights on every rank
        shared = SharedRNN(len(self.vocab), opts.hidden, opts.nodes).to(self.device)
        controller = Controller(opts.nodes, opts.controller_hidden).to(self.device)
        self.shared_net, self.controller_net = shared, controller
        self.shared_opt = torch.optim.SGD(shared.parameters(), lr=self.settings.learning_rate)
        self.controller_opt = torch.optim.Adam(controller.parameters(), lr=opts.controller_lr)
        self.shared = self.add_trained("shared", shared, self.shared_opt, find_unused_parameters=True)
        self.controller = self.add_trained("controller", controller, self.controller_opt)
        self.reward_baseline: float | None = None
        self.derived: Arch | None = None
        self.step_no = 0
        self.epoch = 0

    def _generator(self, *key: int) -> torch.Generator:
        return torch.Generator().manual_seed(hash((self.ctx.seed, *key)) & 0x7FFFFFFF)

    def train_batches(self, epoch: int) -> Iterable[Any]:
        opts: EnasOptions = self.settings.options
        self.epoch = epoch
        self.hidden = torch.zeros(self.train_rows.shape[0], opts.hidden, device=self.device)
        for start in range(0, self.train_rows.shape[1] - 1, opts.bptt):
            yield ("shared", start)
        for k in range(opts.controller_steps):
            yield ("controller", k)

    def train_step(self, batch: Any) -> StepOutput:
        kind, k = batch
        self.derived = None
        self.step_no += 1
        return self._shared_step(k) if kind == "shared" else self._controller_step(k)

    def _shared_step(self, start: int) -> StepOutput:
        opts: EnasOptions = self.settings.options
        with torch.no_grad():
            arch, _, _ = self.controller_net(self._generator(self.epoch, self.step_no))
        end = min(start + opts.bptt, self.train_rows.shape[1] - 1)
        x, y = self.train_rows[:, start:end], self.train_rows[:, start + 1 : end + 1]
        self.shared.train()
        logits, h = self.shared(x, self.hidden.detach(), arch)
        self.hidden = h.detach()
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.shared_opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.shared_net.parameters(), opts.clip)
        self.shared_opt.step()
        return StepOutput(loss=loss.detach(), samples=x.numel())

    @torch.no_grad()
    def _valid_nll(self, arch: Arch, k: int) -> float:
        """Mean NLL on validation window k (the same window on every rank)."""
        opts: EnasOptions = self.settings.options
        windows = max(1, (self.valid_rows.shape[1] - 1) // opts.bptt)
        start = (k % windows) * opts.bptt
        x = self.valid_rows[:, start : start + opts.bptt]
        y = self.valid_rows[:, start + 1 : start + 1 + x.shape[1]]
        self.shared_net.eval()
        h = torch.zeros(x.shape[0], opts.hidden, device=self.device)
        logits, _ = self.shared_net(x, h, arch)
        return float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)))

    def _controller_step(self, k: int) -> StepOutput:
        opts: EnasOptions = self.settings.options
        self.controller.train()
        arch, log_prob, entropy = self.controller(self._generator(self.epoch, self.step_no))
        ppl = float(np.exp(min(self._valid_nll(arch, self.step_no), 50.0)))
        reward = opts.reward_c / ppl
        if self.reward_baseline is None:
            self.reward_baseline = reward
        advantage = reward - self.reward_baseline
        self.reward_baseline = opts.baseline_decay * self.reward_baseline + (1 - opts.baseline_decay) * reward
        loss = -log_prob * advantage - opts.entropy_weight * entropy
        self.controller_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.controller_opt.step()
        return StepOutput(loss={"controller": loss.detach(), "reward": reward}, samples=1)

    def derive(self) -> Arch:
        """The best of `derive_samples` sampled cells on the first validation window."""
        if self.derived is None:
            opts: EnasOptions = self.settings.options
            gen = self._generator(-1, 0)
            with torch.no_grad():
                cells = [self.controller_net(gen)[0] for _ in range(opts.derive_samples)]
            self.derived = min(cells, key=lambda a: self._valid_nll(a, 0))
        return self.derived

    @torch.no_grad()
    def infer(self, indices: Sequence[int]) -> list[np.ndarray]:
        """Per validation sentence [sum NLL of its words and <eos>, token count] under the derived cell."""
        opts: EnasOptions = self.settings.options
        arch = self.derive()
        eos = self.index[EOS]
        rows = [self.eval_ids[i] for i in indices]
        length = max(len(r) for r in rows) + 1
        x = torch.full((len(rows), length), eos, dtype=torch.long)
        y = torch.full((len(rows), length), -100, dtype=torch.long)
        for n, r in enumerate(rows):
            x[n, 1 : len(r) + 1] = torch.tensor(r, dtype=torch.long)
            y[n, : len(r) + 1] = torch.tensor([*r, eos], dtype=torch.long)
        self.shared_net.eval()
        h = torch.zeros(len(rows), opts.hidden, device=self.device)
        logits, _ = self.shared_net(x.to(self.device), h, arch)
        nll = F.cross_entropy(logits.transpose(1, 2).float(), y.to(self.device), reduction="none")
        return [np.array([float(nll[n].sum()), len(r) + 1]) for n, r in enumerate(rows)]

    def score(self, outputs: Mapping[int, np.ndarray]) -> dict[str, float]:
        return {"perplexity": corpus_perplexity(outputs[i] for i in range(self.eval_samples()))}

    def inference_batch_size(self) -> int:
        return int(self.settings.options.eval_batch)

    @classmethod
    def model_probe(cls, settings: ProfileSettings[Any], device: torch.device) -> ModelProbe:
        opts: EnasOptions = settings.options
        vocab = opts.vocab if settings.data is None else settings.data.vocab
        with torch.device(device):
            model = SharedRNN(vocab, opts.hidden, opts.nodes)
            tokens = torch.zeros(1, opts.bptt + 1, dtype=torch.long)
            h = torch.zeros(1, opts.hidden)
        # A chain through every node with tanh: the most compute a sampled cell can use (every node's matmul).
        arch: Arch = tuple((j - 1, 0) for j in range(opts.nodes))

        def inference() -> torch.Tensor:
            return model.eval()(tokens[:, :-1], h, arch)[0]

        def training_loss() -> torch.Tensor:
            logits = model.train()(tokens[:, :-1], h, arch)[0]
            return F.cross_entropy(logits.reshape(-1, vocab), tokens[:, 1:].reshape(-1))

        return ModelProbe(
            model,
            inference,
            training_loss,
            samples=opts.bptt,  # a training sample is one token, as the step counts them: one window is bptt samples
            sample_shape=f"one token (of a BPTT window of {opts.bptt})",
            notes="shared weights of every node pair counted; one sampled cell uses one edge per node",
        )

    def train_samples(self) -> int:
        return int(self.train_rows.numel())

    def eval_samples(self) -> int:
        return len(self.eval_ids)
