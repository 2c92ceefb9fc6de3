"""Graphs and the naive dense float64 reference of GRAFF shared by the tests of graff.nn.

The reference is written from the paper's formulas (Di Giovanni et al. 2022, eq. 6):

    F(0) = ψ_EN(X),  F(t+τ) = F(t) + τ(−F(t)Ω + Ā F(t) W + β F(0)),  Y = ψ_DE(F(T)),

Ā = D̃^{-1/2}(A+I)D̃^{-1/2} (self-loops) or D^{-1/2} A D^{-1/2} (isolated nodes → zero rows),
with Ā_ij the weight of the edge j → i (PyG's orientation; symmetric on undirected graphs).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import remove_self_loops, to_undirected

from graff.nn import GRAFF, normalized_adjacency
from graff.nn.parametrisations import ChannelMixing

DT = torch.float64


ALL_W = ["sum", "prod", "neg_prod", "diag", "dd"]


ALL_OMEGA = ["diag", "const", "zero", "sym"]


def random_graph(n: int, m: int, seed: int, isolated: int | None = None) -> Tensor:
    """Random undirected simple graph on n nodes; node ``isolated`` (if given) has no edges."""
    gen = torch.Generator().manual_seed(seed)
    hi = n - 1 if isolated is not None else n
    ei = torch.randint(0, hi, (2, m), generator=gen)
    if isolated is not None:  # map [0, n-1) onto the nodes other than ``isolated``
        ei = ei + (ei >= isolated).long()
    ei, _ = remove_self_loops(ei)
    return to_undirected(ei, num_nodes=n)


GRAPHS: list[tuple[str, int, Tensor]] = [
    ("sparse", 9, random_graph(9, 12, seed=0)),
    ("dense", 7, random_graph(7, 30, seed=1)),
    ("isolated", 8, random_graph(8, 10, seed=2, isolated=3)),
    ("isolated_last", 6, random_graph(6, 6, seed=3, isolated=5)),
]


def dense_a(edge_index: Tensor, n: int) -> Tensor:
    """Binary A with A_ij = 1 iff the edge j → i exists."""
    a = torch.zeros(n, n, dtype=DT)
    a[edge_index[1], edge_index[0]] = 1.0
    return a


def dense_abar_weighted(
    edge_index: Tensor, n: int, edge_weight: Tensor | None = None, self_loops: bool = True
) -> Tensor:
    """Ā = D^{-1/2} A D^{-1/2} of a weighted, possibly directed graph (A_ij = Σ weights of
    the edges j → i, D its row sums, A ← A + I first with self-loops), differentiable in the
    weights: the definition of PyG's gcn_norm, written densely."""
    w = torch.ones(edge_index.size(1), dtype=DT) if edge_weight is None else edge_weight
    a = torch.zeros(n, n, dtype=w.dtype).index_put(
        (edge_index[1], edge_index[0]), w, accumulate=True
    )
    if self_loops:
        a = a + torch.eye(n, dtype=w.dtype)
    deg = a.sum(1)
    dinv = torch.where(deg > 0, deg.clamp(min=1e-300).pow(-0.5), torch.zeros_like(deg))
    return dinv[:, None] * a * dinv[None, :]


def directed_graph(n: int, m: int, seed: int) -> Tensor:
    """A random loop-free graph on n nodes whose edges mostly lack their reverse."""
    gen = torch.Generator().manual_seed(seed)
    ei, _ = remove_self_loops(torch.randint(0, n, (2, m), generator=gen))
    return ei


def dense_abar(edge_index: Tensor, n: int, self_loops: bool) -> Tensor:
    """Ā = D^{-1/2} A D^{-1/2} (A ← A + I first with self-loops), zero rows for degree 0."""
    a = dense_a(edge_index, n)
    if self_loops:
        a = a + torch.eye(n, dtype=DT)
    deg = a.sum(1)
    dinv = torch.where(deg > 0, deg.clamp(min=1e-300).pow(-0.5), torch.zeros_like(deg))
    return dinv[:, None] * a * dinv[None, :]


def ref_matrix(module: ChannelMixing, kind: str) -> Tensor:
    """W or Ω rebuilt from the module's raw parameters with the paper's formulas."""
    d = module.channels
    if kind == "zero":
        return torch.zeros(d, d, dtype=DT)
    raw = module.weight.detach()
    if kind in ("sum", "sym"):
        return 0.5 * (raw + raw.t())
    if kind == "prod":
        return raw.t() @ raw
    if kind == "neg_prod":
        return -(raw.t() @ raw)
    if kind == "diag":
        return torch.diag(raw)
    if kind == "const":
        return raw.reshape(()) * torch.eye(d, dtype=DT)
    if kind == "dd":
        w0 = 0.5 * (raw + raw.t())
        w0 = w0 - torch.diag(torch.diagonal(w0))
        q, r = module.q.detach(), module.r.detach()  # type: ignore[union-attr]
        return torch.diag(q * w0.abs().sum(1) + r) + w0
    raise AssertionError(kind)


def standardise(z: Tensor) -> Tensor:
    """Per-channel standardisation over the nodes (biased variance, ε = 1e-5, no affine)."""
    mean = z.mean(0, keepdim=True)
    var = ((z - mean) ** 2).mean(0, keepdim=True)
    return (z - mean) / torch.sqrt(var + 1e-5)


def ref_step(
    f: Tensor,
    f0: Tensor,
    abar: Tensor,
    w: Tensor,
    om: Tensor,
    beta: float,
    tau: float,
    nl: bool,
    norm: bool = False,
) -> Tensor:
    """F + τ·σ(N(−FΩ + ĀFW + βF(0))), σ = ReLU if ``nl``, N = standardisation if ``norm``."""
    inc = -f @ om + abar @ f @ w + beta * f0
    if norm:
        inc = standardise(inc)
    if nl:
        inc = torch.relu(inc)
    return f + tau * inc


def ref_forward(
    model: GRAFF,
    x: Tensor,
    edge_index: Tensor,
    *,
    steps: list[float],
    cfg: dict,
    abar: Tensor | None = None,
) -> Tensor:
    """Dense float64 GRAFF forward in eval mode (no dropout), from the raw parameters
    (``abar``: the dense Ā to use instead of that of the undirected ``edge_index``)."""
    n = x.shape[0]
    if abar is None:
        abar = dense_abar(edge_index, n, cfg.get("self_loops", True))
    h = x @ model.encoder.weight.detach().t() + model.encoder.bias.detach()
    for lin in model.encoder_mlp:
        h = h + torch.relu(h) @ lin.weight.detach().t() + lin.bias.detach()
    f0 = h
    conv = model.conv
    w_type = cfg.get("w_type", "dd")
    ws = [ref_matrix(w, w_type) for w in conv.ws]  # type: ignore[arg-type]
    om = ref_matrix(conv.omega, cfg.get("omega_type", "diag"))
    beta = float(conv.beta.detach().item())
    f = f0
    for k, tau in enumerate(steps):
        w = ws[k] if cfg.get("time_dependent", False) else ws[0]
        nl, norm = cfg.get("nonlinear", False), cfg.get("step_norm", False)
        f = ref_step(f, f0, abar, w, om, beta, tau, nl, norm)
    if cfg.get("output_relu", False):
        f = torch.relu(f)
    return f @ model.decoder.weight.detach().t() + model.decoder.bias.detach()


_ADJ: dict[tuple[int, bool], Tensor] = {}


def sparse_abar(graph: int, self_loops: bool) -> Tensor:
    """normalized_adjacency of GRAPHS[graph] in float64, memoised across tests."""
    key = (graph, self_loops)
    if key not in _ADJ:
        _, n, ei = GRAPHS[graph]
        _ADJ[key] = normalized_adjacency(ei, n, self_loops=self_loops, dtype=DT)
    return _ADJ[key]


def randomise_(model: torch.nn.Module, seed: int) -> None:
    """Redraw every parameter (incl. β) so that no term of the update is trivially zero."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
