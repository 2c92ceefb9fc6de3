"""One explicit-Euler step of GRAFF, as a PyG-style layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graff.nn.adjacency import normalized_adjacency, rcm_order, sym_spmm_add
from graff.nn.parametrisations import ChannelMixing, make_omega, make_w

__all__ = ["GRAFFConv"]

#: graphs with at least this many nodes are renumbered for locality when ``reorder=None``.
REORDER_MIN_NODES = 10_000


class GRAFFConv(nn.Module):
    r"""The gradient-flow step of `"Graph Neural Networks as Gradient Flows"
    <https://arxiv.org/abs/2206.10991>`_ (Di Giovanni et al. 2022, eq. 6).

    .. math::
        \mathbf{F}' = \mathbf{F} + \tau\big(-\mathbf{F}\boldsymbol{\Omega}
        + \bar{\mathbf{A}}\mathbf{F}\mathbf{W} + \beta\,\mathbf{F}(0)\big)

    with W and Ω symmetric d×d matrices (so the update is the Euler discretisation of the
    gradient flow of the energy E^tot), β a scalar source strength and
    Ā = D̃^{-1/2}(A+I)D̃^{-1/2}. With ``nonlinear=True`` (GRAFF-NL) the increment goes
    through a pointwise ReLU: :math:`\mathbf{F}' = \mathbf{F} + \tau\,\sigma(\dots)`.

    The same W, Ω and β are used at every step (weight sharing); with ``num_w > 1`` the layer
    holds one W per step (time-dependent W) and ``forward(..., step=k)`` picks W_k.

    Args:
        channels (int): feature width d.
        w_type (str): W parametrisation: ``"sum"``, ``"prod"``, ``"neg_prod"``, ``"diag"``
            or ``"dd"`` (default ``"dd"``).
        omega_type (str): Ω parametrisation: ``"diag"``, ``"const"``, ``"zero"``, ``"sym"``.
        step_size (float): Euler step τ > 0 (default 1.0).
        learn_beta (bool): learn β (initialised at ``beta``) or keep it fixed.
        beta (float): initial (or fixed) β (default 0.0).
        nonlinear (bool): GRAFF-NL, ReLU on the increment (default False).
        num_w (int): number of W matrices (1 = shared; >1 = time-dependent).
        increment_norm (bool): standardise each channel of the increment over the nodes
            (zero mean, unit variance, as batch norm in training mode without affine map)
            before the update.
        self_loops (bool): add self-loops in Ā (default True).
        cached (bool): cache Ā after the first call (transductive use, default True).
        reorder (bool or None): let :meth:`propagation` renumber the nodes in reverse
            Cuthill–McKee order for a whole evolution (faster sparse products, same result up
            to floating-point summation order); ``None`` (default): only for graphs of at least
            ``REORDER_MIN_NODES`` nodes, where the features outgrow the CPU caches.

    Shapes:
        - input: features [n, d], initial features F(0) [n, d], edge_index [2, E]
          (undirected), optional edge_weight [E]
        - output: [n, d]
    """

    def __init__(
        self,
        channels: int,
        w_type: str = "dd",
        omega_type: str = "diag",
        step_size: float = 1.0,
        *,
        learn_beta: bool = True,
        beta: float = 0.0,
        nonlinear: bool = False,
        num_w: int = 1,
        increment_norm: bool = False,
        self_loops: bool = True,
        cached: bool = True,
        reorder: bool | None = None,
    ) -> None:
        super().__init__()
        if not step_size > 0:
            raise ValueError(f"step_size τ must be positive, got {step_size}")
        if num_w < 1:
            raise ValueError(f"num_w must be ≥ 1, got {num_w}")
        self.channels = channels
        self.w_type = w_type
        self.omega_type = omega_type
        self.step_size = float(step_size)
        self.nonlinear = nonlinear
        self.increment_norm = increment_norm
        self.self_loops = self_loops
        self.cached = cached
        self.reorder = reorder
        self.ws = nn.ModuleList([make_w(w_type, channels) for _ in range(num_w)])
        self.omega = make_omega(omega_type, channels)
        self.beta_init = float(beta)
        if learn_beta:
            self.beta = nn.Parameter(torch.tensor([float(beta)]))
        else:
            self.register_buffer("beta", torch.tensor([float(beta)]))
        self._cache: dict[str, tuple[tuple[object, ...], Any]] = {}

    def reset_parameters(self) -> None:
        for w in self.ws:
            w.reset_parameters()  # type: ignore[operator]
        self.omega.reset_parameters()  # type: ignore[operator]
        with torch.no_grad():
            self.beta.fill_(self.beta_init)
        self._cache = {}

    def w(self, step: int = 0) -> ChannelMixing:
        """The W parametrisation used at Euler step ``step``."""
        return self.ws[min(step, len(self.ws) - 1)]  # type: ignore[return-value]

    def _cache_key(
        self, edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None
    ) -> tuple[object, ...]:
        # Identity of the graph tensors (address, size, in-place version) and of the model's
        # dtype/device: a new graph, an edited edge_index or a .double() all rebuild Ā.
        return (
            edge_index.data_ptr(),
            edge_index.size(1),
            edge_index._version,
            num_nodes,
            0 if edge_weight is None else edge_weight.data_ptr(),
            0 if edge_weight is None else edge_weight._version,
            str(self.omega.diagonal().dtype),
            str(edge_index.device),
        )

    def _cached(self, name: str, key: tuple[object, ...], build: Callable[[], Any]) -> Any:
        hit = self._cache.get(name)
        if self.cached and hit is not None and hit[0] == key:
            return hit[1]
        value = build()
        if self.cached:
            self._cache[name] = (key, value)
        return value

    def adjacency(
        self, edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None
    ) -> Tensor:
        """Ā as a CSR matrix, computed once and cached when ``cached=True``."""
        dtype = self.omega.diagonal().dtype

        def build() -> Tensor:
            return normalized_adjacency(
                edge_index, num_nodes, edge_weight, self_loops=self.self_loops, dtype=dtype
            ).to(edge_index.device)

        key = self._cache_key(edge_index, num_nodes, edge_weight)
        adj: Tensor = self._cached("adj", key, build)
        return adj

    def propagation(
        self, edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """(Ā, order) for a whole evolution, cached like :meth:`adjacency`.

        ``order`` is None when the nodes keep their numbering; otherwise Ā is that of the graph
        renumbered so that new node i is old node ``order[i]`` (see ``reorder``), and features
        must be taken to that order (``F[order]``) and back.
        """
        want = self.reorder if self.reorder is not None else num_nodes >= REORDER_MIN_NODES
        if not want:
            return self.adjacency(edge_index, num_nodes, edge_weight), None
        dtype = self.omega.diagonal().dtype

        def build() -> tuple[Tensor, Tensor]:
            order = rcm_order(edge_index, num_nodes)
            new_id = torch.empty_like(order)
            new_id[order] = torch.arange(num_nodes, device=order.device)
            adj = normalized_adjacency(
                new_id[edge_index], num_nodes, edge_weight, self_loops=self.self_loops, dtype=dtype
            ).to(edge_index.device)
            return adj, order

        key = self._cache_key(edge_index, num_nodes, edge_weight)
        result: tuple[Tensor, Tensor] = self._cached("reordered", key, build)
        return result

    def operators(self, step: int = 0) -> tuple[Tensor, Tensor]:
        """(W, Ω) of step ``step``, each as a vector [d] when diagonal or a matrix [d, d].

        Building them once per forward pass and passing them to every step (``ops=``) avoids
        rebuilding the shared matrices ⌈T/τ⌉ times.
        """
        w = self.w(step)
        w_op = w.diagonal() if w.is_diagonal else w.matrix()
        om = self.omega
        om_op = om.diagonal() if om.is_diagonal else om.matrix()
        return w_op, om_op

    def forward(
        self,
        x: Tensor,
        x0: Tensor,
        edge_index: Tensor | None = None,
        edge_weight: Tensor | None = None,
        *,
        adj: Tensor | None = None,
        step_size: float | None = None,
        step: int = 0,
        ops: tuple[Tensor, Tensor] | None = None,
        source: Tensor | None = None,
    ) -> Tensor:
        """One Euler step. Pass either ``edge_index`` or a precomputed ``adj`` (Ā, CSR).

        ``source`` may hold τβF(0) for this step's τ, computed once for all steps of a pass
        (:meth:`source`); the linear step then makes one pass over the features less.
        """
        if adj is None:
            if edge_index is None:
                raise ValueError("GRAFFConv needs edge_index or a precomputed adj")
            adj = self.adjacency(edge_index, x.size(0), edge_weight)
        tau = self.step_size if step_size is None else float(step_size)
        w_op, om_op = self.operators(step) if ops is None else ops
        xw = x * w_op if w_op.dim() == 1 else x @ w_op
        if self.nonlinear or self.increment_norm:
            x_om = x * om_op if om_op.dim() == 1 else x @ om_op
            inc = sym_spmm_add(adj, xw, self.beta * x0 - x_om)
            if self.increment_norm:
                inc = F.batch_norm(inc, None, None, training=True)
            if self.nonlinear:
                inc = torch.relu(inc)
            return x + tau * inc
        # Linear step, fused: base = F − τFΩ + τβF(0) (a fresh tensor), then base += τ·Ā(FW)
        # in place.
        src = self.source(x0, tau) if source is None else source
        if self.omega.is_zero:
            base = x + src
        elif om_op.dim() == 1:
            base = torch.addcmul(src, x, 1.0 - tau * om_op)
        else:
            base = x - tau * (x @ om_op) + src
        return sym_spmm_add(adj, xw, base, tau, inplace=True)

    def source(self, x0: Tensor, step_size: float) -> Tensor:
        """The source term τβF(0) of one Euler step of size τ."""
        return (step_size * self.beta) * x0

    def extra_repr(self) -> str:
        return (
            f"{self.channels}, w_type={self.w_type!r}, omega_type={self.omega_type!r}, "
            f"step_size={self.step_size}, nonlinear={self.nonlinear}, num_w={len(self.ws)}"
        )
