"""One explicit-Euler step of GRAFF, as a PyG-style layer."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graff.nn.adjacency import (
    as_edge_index,
    gcn_adjacency,
    graph_cached,
    normalized_adjacency,
    normalized_edges,
    rcm_order,
)
from graff.nn.checks import (
    CheckedModule,
    check_finite,
    check_flags,
    check_positive,
    check_sizes,
)
from graff.nn.functional import inverse_permutation
from graff.nn.parametrisations import ChannelMixing, make_omega, make_w
from graff.nn.sparse import EdgeList, spmm_add

__all__ = ["REORDER_MIN_NODES", "EdgeList", "GRAFFConv"]

#: graphs with at least this many nodes are renumbered for locality when ``reorder=None``.
REORDER_MIN_NODES = 10_000


class GRAFFConv(CheckedModule, nn.Module):
    r"""The gradient-flow step of `"Graph Neural Networks as Gradient Flows"
    <https://arxiv.org/abs/2206.10991>`_ (Di Giovanni et al. 2022, eq. 6).

    .. math::
        \mathbf{F}' = \mathbf{F} + \tau\big(-\mathbf{F}\boldsymbol{\Omega}
        + \bar{\mathbf{A}}\mathbf{F}\mathbf{W} + \beta\,\mathbf{F}(0)\big)

    with W and Ω symmetric d×d matrices (so the update is the Euler discretisation of the
    gradient flow of the energy E^tot), β a scalar source strength and
    Ā = D̃^{-1/2}(A+I)D̃^{-1/2}. With ``nonlinear=True`` (GRAFF-NL) the increment goes
    through a pointwise ReLU: :math:`\mathbf{F}' = \mathbf{F} + \tau\,\sigma(\dots)`.
    With ``residual=False`` (the paper's ablation) the step drops the ``F +``:
    :math:`\mathbf{F}' = \tau\big(-\mathbf{F}\boldsymbol{\Omega}
    + \bar{\mathbf{A}}\mathbf{F}\mathbf{W} + \beta\mathbf{F}(0)\big)`.

    The same W, Ω and β are used at every step (weight sharing); with ``num_w > 1`` the layer
    holds one W per step (time-dependent W) and ``forward(..., step=k)`` picks W_k.

    The graph may be ``edge_index`` [2, E] with optional ``edge_weight`` [E], or a sparse
    ``adj_t`` [n, n] (``torch.sparse`` COO/CSR, or ``torch_sparse.SparseTensor``) in place of
    ``edge_index``, as PyG's ``GCNConv`` takes it; Ā_ij weighs the edge j → i. Directed graphs
    and asymmetric weights are supported (gradients use the exact Āᵀ); an ``edge_weight``
    (or ``adj_t`` values) that requires grad receives its gradient (explainers' edge masks).

    Caching: Ā is cached per graph (``cached=True``, the default) — keyed on the graph tensors
    themselves, not their addresses, so a new graph, a freed one or an in-place edit always
    rebuilds (:mod:`graff.nn.cache`); ``cached=False`` rebuilds Ā at every call.

    Export: ``torch.jit.trace`` of an evaluated model records Ā as an edge list computed from
    the traced ``edge_index`` input (gather/scatter-add), so the traced module works on any
    graph; sparse ``adj_t`` inputs, node reordering and sparse features are not traceable.
    ONNX export is untested (the ``onnx`` package is not a dependency).

    ``torch.compile``: the layer compiles and runs on any graph without eager warm-up; Ā is
    looked up in the cache outside the compiled code (a graph break) and used as an
    :class:`EdgeList` (gather and scatter-add, which compile), or built inside it when
    ``cached=False``. ``torch.jit.script`` is refused with one line
    (:class:`~graff.errors.TorchScriptError`): use ``torch.compile`` or ``torch.jit.trace``.

    Args:
        channels (int): feature width d.
        w_type (str): W parametrisation, a name of :data:`~graff.nn.W_TYPES`: ``"sum"``,
            ``"prod"``, ``"neg_prod"``, ``"diag"`` or ``"dd"`` (default ``"dd"``).
        omega_type (str): Ω parametrisation (:data:`~graff.nn.OMEGA_TYPES`): ``"diag"``,
            ``"const"``, ``"zero"``, ``"sym"``.
        step_size (float): Euler step τ > 0 (default 1.0).
        learn_beta (bool): learn β (initialised at ``beta``) or keep it fixed.
        beta (float): initial (or fixed) β (default 0.0).
        nonlinear (bool): GRAFF-NL, ReLU on the increment (default False).
        num_w (int): number of W matrices (1 = shared; >1 = time-dependent).
        increment_norm (bool): standardise each channel of the increment over the nodes
            (zero mean, unit variance, as batch norm in training mode without affine map)
            before the update.
        residual (bool): the residual ``F +`` of the Euler step (default True; False is the
            paper's "GRAFF without residual connection" ablation).
        self_loops (bool): add self-loops in Ā (default True).
        cached (bool): reuse Ā across calls on the same graph (default True; see above).
        reorder (bool or None): let :meth:`propagation` renumber the nodes in reverse
            Cuthill–McKee order for a whole evolution (faster sparse products, same result up
            to floating-point summation order); ``None`` (default): only for graphs of at least
            ``REORDER_MIN_NODES`` nodes, where the features outgrow the CPU caches.

    Shapes:
        - input: features [n, d], initial features F(0) [n, d], edge_index [2, E] or
          adj_t [n, n], optional edge_weight [E]
        - output: [n, d]

    Example:
        >>> import torch
        >>> from graff.nn import GRAFFConv
        >>> conv = GRAFFConv(8, w_type="dd", omega_type="diag", step_size=0.5)
        >>> edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
        >>> h = h0 = torch.randn(4, 8)
        >>> for _ in range(3):  # three Euler steps sharing W and Ω
        ...     h = conv(h, h0, edge_index)
        >>> h.shape
        torch.Size([4, 8])
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
        residual: bool = True,
        self_loops: bool = True,
        cached: bool = True,
        reorder: bool | None = None,
    ) -> None:
        super().__init__()
        check_positive(step_size=step_size)
        check_sizes(num_w=num_w)
        check_finite(beta=beta)
        check_flags(
            learn_beta=learn_beta,
            nonlinear=nonlinear,
            increment_norm=increment_norm,
            residual=residual,
            self_loops=self_loops,
            cached=cached,
        )
        if reorder is not None:
            check_flags(reorder=reorder)
        self.channels = channels
        self.w_type = w_type
        self.omega_type = omega_type
        self.step_size = float(step_size)
        self.nonlinear = nonlinear
        self.increment_norm = increment_norm
        self.residual = residual
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

    def reset_parameters(self) -> None:
        for w in self.ws:
            w.reset_parameters()  # type: ignore[operator]
        self.omega.reset_parameters()  # type: ignore[operator]
        with torch.no_grad():
            self.beta.fill_(self.beta_init)

    def w(self, step: int = 0) -> ChannelMixing:
        """The W parametrisation used at Euler step ``step``."""
        return self.ws[min(step, len(self.ws) - 1)]  # type: ignore[return-value]

    def adjacency(
        self, edge_index: Any, num_nodes: int, edge_weight: Tensor | None = None
    ) -> Tensor:
        """Ā as a CSR matrix [n, n] (cached when ``cached=True``); ``edge_index`` may be adj_t."""
        dtype = self.omega.diagonal().dtype
        build = gcn_adjacency if self.cached else normalized_adjacency
        return build(edge_index, num_nodes, edge_weight, self_loops=self.self_loops, dtype=dtype)

    def _operator(
        self, edge_index: Any, num_nodes: int, edge_weight: Tensor | None
    ) -> Tensor | EdgeList:
        """Ā in the caller's node order: CSR, or an :class:`EdgeList` while tracing or
        compiling."""
        if not torch.jit.is_tracing() and (self.cached or not torch.compiler.is_compiling()):
            return self.adjacency(edge_index, num_nodes, edge_weight)
        ei, ew = as_edge_index(edge_index, num_nodes, edge_weight)
        dtype = self.omega.diagonal().dtype
        index, weight = normalized_edges(ei, num_nodes, ew, self_loops=self.self_loops, dtype=dtype)
        return EdgeList(index, weight, num_nodes)

    def propagation(
        self, edge_index: Any, num_nodes: int, edge_weight: Tensor | None = None
    ) -> tuple[Tensor | EdgeList, Tensor | None]:
        """(Ā, order) for a whole evolution, cached like :meth:`adjacency`.

        ``order`` is None when the nodes keep their numbering; otherwise Ā is that of the graph
        renumbered so that new node i is old node ``order[i]`` (see ``reorder``), and features
        must be taken to that order (``F[order]``) and back. While ``torch.jit.trace`` records,
        Ā is an :class:`EdgeList` computed from the traced ``edge_index``.
        """
        dtype = self.omega.diagonal().dtype
        want = self.reorder if self.reorder is not None else num_nodes >= REORDER_MIN_NODES
        if not want or torch.jit.is_tracing():
            return self._operator(edge_index, num_nodes, edge_weight), None

        def build() -> tuple[Tensor, Tensor]:
            ei, ew = as_edge_index(edge_index, num_nodes, edge_weight)
            order = rcm_order(ei, num_nodes)
            new_id = inverse_permutation(order)
            adj = normalized_adjacency(
                new_id[ei], num_nodes, ew, self_loops=self.self_loops, dtype=dtype
            )
            return adj, order

        if not self.cached:
            if torch.compiler.is_compiling():  # a compiled graph cannot take a sparse Ā
                return self._operator(edge_index, num_nodes, edge_weight), None
            return build()
        name = f"gcn{int(self.self_loops)}:rcm"
        return graph_cached(name, edge_index, num_nodes, edge_weight, dtype, build)

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
        edge_index: Any = None,
        edge_weight: Tensor | None = None,
        *,
        adj: Tensor | EdgeList | None = None,
        step_size: float | None = None,
        step: int = 0,
        ops: tuple[Tensor, Tensor] | None = None,
        source: Tensor | None = None,
    ) -> Tensor:
        """One Euler step. Pass either the graph (``edge_index`` [2, E] or ``adj_t``) or a
        precomputed ``adj`` (Ā, e.g. from :meth:`propagation`).

        ``source`` may hold τβF(0) for this step's τ, computed once for all steps of a pass
        (:meth:`source`); the linear step then makes one pass over the features less.
        """
        c = self.channels
        if isinstance(x0, Tensor) and not x0.is_floating_point() and edge_index is None:
            raise TypeError(
                f"GRAFFConv({c}) is called as conv(x, x0, edge_index): F(t), F(0) (e.g. the "
                "encoder's output, the same for every step) and the graph; the second argument "
                f"here is an integer tensor {tuple(x0.shape)}, an edge_index in F(0)'s place"
            )
        if x.dim() != 2 or x.size(1) != c or x0.shape != x.shape:
            raise ValueError(
                f"GRAFFConv({c}) takes x and x0 of shape [num_nodes, {c}] (F(t) and F(0)), got "
                f"x {tuple(x.shape)} and x0 {tuple(x0.shape)}"
            )
        if adj is None:
            if edge_index is None:
                raise ValueError("GRAFFConv needs edge_index (or adj_t) or a precomputed adj")
            adj = self._operator(edge_index, x.size(0), edge_weight)
        tau = self.step_size if step_size is None else float(step_size)
        w_op, om_op = self.operators(step) if ops is None else ops
        xw = x * w_op if w_op.dim() == 1 else x @ w_op
        if not self.residual:
            base = self.beta * x0
            if not self.omega.is_zero:
                base = base - (x * om_op if om_op.dim() == 1 else x @ om_op)
            inc = spmm_add(adj, xw, base)
            if self.increment_norm:
                inc = F.batch_norm(inc, None, None, training=True)
            if self.nonlinear:
                inc = torch.relu(inc)
            return tau * inc
        if self.nonlinear or self.increment_norm:
            x_om = x * om_op if om_op.dim() == 1 else x @ om_op
            inc = spmm_add(adj, xw, self.beta * x0 - x_om)
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
        return spmm_add(adj, xw, base, tau, inplace=True)

    def source(self, x0: Tensor, step_size: float) -> Tensor:
        """The source term τβF(0) of one Euler step of size τ."""
        return (step_size * self.beta) * x0

    def extra_repr(self) -> str:
        extra = "" if self.residual else ", residual=False"
        return (
            f"{self.channels}, w_type={self.w_type!r}, omega_type={self.omega_type!r}, "
            f"step_size={self.step_size}, nonlinear={self.nonlinear}, num_w={len(self.ws)}" + extra
        )
