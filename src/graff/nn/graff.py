"""The GRAFF node classifier: encoder ψ_EN, T/τ shared gradient-flow steps, decoder ψ_DE."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from graff.nn.checks import (
    CheckedModule,
    check_callback,
    check_features,
    check_flags,
    check_positive,
    check_probs,
    check_sizes,
)
from graff.nn.functional import dropout, inverse_permutation, permute_rows
from graff.nn.graff_conv import EdgeList, GRAFFConv
from graff.nn.sparse import sparse_dropout_linear

__all__ = [
    "GRAFF",
    "GRAFFNoResidual",
    "StepCallback",
    "checkpointed_steps",
    "euler_step_count",
    "euler_steps",
]

#: ``callback(k, t, F)`` of :meth:`GRAFF.evolve`: F after Euler step k (k = 0: F(0)) at time t.
StepCallback = Callable[[int, float, Tensor], None]


#: The most Euler steps :func:`euler_steps` lays out: far past any useful depth (the
#: configs' ``model.max_steps`` default is 10 000), short of a typo's hang (``T=1e9``).
MAX_STEPS = 1_000_000


def _full_steps(T: float, step_size: float) -> tuple[int, bool]:
    """The full steps of τ in [0, T] and whether a shorter last step follows."""
    check_positive(**{"integration time T": T, "step size τ": step_size})
    full = math.floor(T / step_size + 1e-9)
    return full, T - full * step_size > 1e-9 * max(1.0, T) or full == 0


def euler_step_count(T: float, step_size: float) -> int:
    """``len(euler_steps(T, step_size))``, counted without laying the steps out (any T)."""
    full, short = _full_steps(T, step_size)
    return full + int(short)


def euler_steps(T: float, step_size: float) -> list[float]:
    """Step sizes of an explicit Euler integration of [0, T] with step τ.

    A non-integer T/τ ends with one shorter step, as the public GRAFF code does. At most
    :data:`MAX_STEPS` steps.

    Example:
        >>> from graff.nn import euler_steps
        >>> euler_steps(2.5, 1.0)
        [1.0, 1.0, 0.5]
    """
    full, short = _full_steps(T, step_size)
    if full > MAX_STEPS:
        raise ValueError(
            f"T = {T} in steps of τ = {step_size} is {full} Euler steps, more than {MAX_STEPS} "
            "(each keeps an N × hidden tensor for the backward pass): check T and step_size"
        )
    steps = [float(step_size)] * full
    if short:
        steps.append(T - full * step_size if steps else float(T))
    return steps


def checkpointed_steps(step: Callable[[int, Tensor], Tensor], n: int, f: Tensor) -> Tensor:
    """``f`` after ``step(0, ·)`` … ``step(n − 1, ·)`` with activation checkpointing: the
    steps run in ⌈√n⌉ segments and only each segment's input is kept for the backward pass,
    which recomputes the segment (memory O(√n) for about one more forward pass)."""
    size = max(1, math.ceil(math.sqrt(n)))
    for lo in range(0, n, size):
        hi = min(n, lo + size)

        def segment(f: Tensor, lo: int = lo, hi: int = hi) -> Tensor:
            for k in range(lo, hi):
                f = step(k, f)
            return f

        f = checkpoint(segment, f, use_reentrant=False)
    return f


class GRAFF(CheckedModule, nn.Module):
    r"""GRAFF: a graph neural network that is the gradient flow of a learnable energy.

    .. math::
        \mathbf{F}(0) = \psi_{EN}(\mathbf{X}),\quad
        \mathbf{F}(t+\tau) = \mathbf{F}(t) + \tau\big(-\mathbf{F}(t)\boldsymbol{\Omega}
        + \bar{\mathbf{A}}\mathbf{F}(t)\mathbf{W} + \beta\mathbf{F}(0)\big),\quad
        \mathbf{Y} = \psi_{DE}(\mathbf{F}(T))

    (Di Giovanni et al. 2022, eq. 6.) W and Ω are symmetric and shared across the
    ⌈T/τ⌉ steps; the energy they minimise is
    E^tot(F) = ½ Σ_i ⟨f_i, Ω f_i⟩ − ½ Σ_ij ā_ij ⟨f_i, W f_j⟩ − β⟨F, F(0)⟩.

    Args:
        in_channels (int): input feature dimension p.
        hidden_channels (int): feature width d of the evolution.
        out_channels (int): number of classes k.
        w_type (str): ``"sum"``, ``"prod"``, ``"neg_prod"``, ``"diag"`` or ``"dd"``.
        omega_type (str): ``"diag"``, ``"const"``, ``"zero"`` or ``"sym"``.
        T (float): integration time (> 0, may be non-integer).
        step_size (float): Euler step τ (> 0).
        learn_beta (bool): learn the source strength β (initialised at ``beta``).
        beta (float): initial/fixed β.
        input_dropout (float): dropout on X before the encoder.
        dropout (float): dropout inside the encoder MLP and before the decoder.
        encoder_layers (int): residual layers after the linear encoder,
            h ← dropout(h + Lin(ReLU(h))), with dropout also on the linear encoder's output
            (0 = linear encoder, the paper's main model; the public code's MLP encoder is 2).
        output_relu (bool): apply ReLU to F(T) before the decoder.
        nonlinear (bool): GRAFF-NL (ReLU on each Euler increment).
        time_dependent (bool): one W per Euler step instead of a shared W.
        residual (bool): the residual ``F +`` of the Euler step (default True); False is the
            paper's ablation "GRAFF without residual connection" (:class:`GRAFFNoResidual`).
        step_norm (bool): standardise each channel of the increment
            −FΩ + ĀFW + βF(0) over the nodes (zero mean, unit variance) before each Euler
            update; the public code's "layerwise batch norm" for squirrel, whose affine
            parameters are never trained and whose statistics are always the batch's.
        self_loops (bool): self-loops in Ā.
        checkpoint (bool): activation checkpointing over the Euler steps when training:
            the evolution runs in ⌈√steps⌉ segments and keeps only each segment's input for
            the backward pass, which recomputes the segment — memory O(√T) instead of O(T)
            for about one more forward pass of compute (ignored when a callback is given).
        reorder (bool or None): evolve in reverse Cuthill–McKee node order (faster sparse
            products; the output keeps the caller's order). ``None`` (default): on graphs of at
            least 10 000 nodes (:class:`GRAFFConv`).

    The graph is taken as by :class:`GRAFFConv`: ``edge_index`` (+ ``edge_weight``) or a
    sparse ``adj_t``, directed or not; Ā is cached per graph tensor (never per address), an
    ``edge_weight`` that requires grad receives its gradient, ``copy.deepcopy`` works at any
    time, and ``torch.jit.trace`` of an evaluated model on dense features and ``edge_index``
    gives a module that works on any graph (reordering is skipped while tracing). ONNX export
    is untested: it needs the optional ``onnx`` package, which graff does not depend on.

    ``torch.compile(model)`` works on any graph, with no eager warm-up: Ā is looked up in
    graff's cache outside the compiled code (one graph break per forward pass) and enters it
    as an edge list (:class:`~graff.nn.sparse.EdgeList`), whose products compile; a graph of
    new shapes recompiles once (then dynamic shapes), one of the same shapes never. Sparse
    CSR features and a sparse ``adj_t`` work too, their sparse parts run eagerly. On the CPU
    compiled training of GRAFF was 1.17–1.29× slower than eager at one thread
    (``benchmarks/results-compile.md``).
    ``torch.jit.script`` is refused with a :class:`~graff.errors.TorchScriptError`.

    Shapes:
        - input: node features x [n, p] (dense or sparse CSR), edge_index [2, E] or
          adj_t [n, n], optional edge_weight [E]
        - output: class logits [n, k]

    Example:
        >>> import torch
        >>> from graff.nn import GRAFF
        >>> x = torch.randn(4, 3)
        >>> edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
        >>> model = GRAFF(3, 8, 2, w_type="sum", T=2.5, step_size=1.0)
        >>> model(x, edge_index).shape
        torch.Size([4, 2])
        >>> torch.equal(model.W, model.W.T)  # W is symmetric
        True
        >>> times = []
        >>> _ = model(x, edge_index, callback=lambda k, t, F: times.append(t))
        >>> times  # F(0), then the Euler steps: T/τ = 2.5 ends with a half step
        [0.0, 1.0, 2.0, 2.5]
    """

    #: :meth:`forward` accepts sparse CSR node features (see :meth:`encode`).
    accepts_sparse_features = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        w_type: str = "dd",
        omega_type: str = "diag",
        T: float = 3.0,
        step_size: float = 1.0,
        learn_beta: bool = True,
        beta: float = 0.0,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
        encoder_layers: int = 0,
        output_relu: bool = False,
        nonlinear: bool = False,
        time_dependent: bool = False,
        step_norm: bool = False,
        residual: bool = True,
        self_loops: bool = True,
        checkpoint: bool = False,
        reorder: bool | None = None,
    ) -> None:
        super().__init__()
        check_sizes(
            in_channels=in_channels, hidden_channels=hidden_channels, out_channels=out_channels
        )
        check_probs(input_dropout=input_dropout, dropout=dropout)
        check_flags(
            output_relu=output_relu,
            time_dependent=time_dependent,
            step_norm=step_norm,
            checkpoint=checkpoint,
        )
        if encoder_layers < 0:
            raise ValueError(f"encoder_layers must be ≥ 0, got {encoder_layers}")
        self.steps = euler_steps(T, step_size)
        self.T = float(T)
        self.input_dropout = input_dropout
        self.dropout = dropout
        self.output_relu = output_relu
        self.checkpoint = checkpoint
        self.encoder = nn.Linear(in_channels, hidden_channels)
        self.encoder_mlp = nn.ModuleList(
            nn.Linear(hidden_channels, hidden_channels) for _ in range(encoder_layers)
        )
        self.conv = GRAFFConv(
            hidden_channels,
            w_type,
            omega_type,
            step_size,
            learn_beta=learn_beta,
            beta=beta,
            nonlinear=nonlinear,
            num_w=len(self.steps) if time_dependent else 1,
            self_loops=self_loops,
            increment_norm=step_norm,
            residual=residual,
            reorder=reorder,
        )
        self.decoder = nn.Linear(hidden_channels, out_channels)

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()
        for lin in self.encoder_mlp:
            lin.reset_parameters()  # type: ignore[operator]
        self.conv.reset_parameters()
        self.decoder.reset_parameters()

    # -- read-outs -------------------------------------------------------------------------
    @property
    def W(self) -> Tensor:
        """The learned W (detached): [d, d], or [steps, d, d] when time-dependent."""
        with torch.no_grad():
            mats = [w.matrix() for w in self.conv.ws]  # type: ignore[operator]
            return mats[0].clone() if len(mats) == 1 else torch.stack(mats)

    @property
    def Omega(self) -> Tensor:
        """The learned Ω (detached), [d, d]."""
        with torch.no_grad():
            return self.conv.omega.matrix().clone()

    @property
    def beta(self) -> Tensor:
        """The source strength β (detached scalar tensor)."""
        return self.conv.beta.detach().clone().squeeze()

    # -- forward pieces ----------------------------------------------------------------------
    def encode(self, x: Tensor) -> Tensor:
        """F(0) = ψ_EN(X) (with input dropout in training mode).

        ``x`` may be a sparse CSR matrix (bag-of-words features are 1–5 % dense): dropout then
        acts on the stored values only and the encoder is one sparse-dense product, with the
        same distribution as dense dropout since dropped zeros stay zero.
        """
        check_features(x, self.encoder.weight)
        if x.layout == torch.sparse_csr:
            h = sparse_dropout_linear(
                x, self.encoder.weight, self.encoder.bias, self.input_dropout, self.training
            )
        else:
            h = self.encoder(dropout(x, self.input_dropout, self.training))
        if len(self.encoder_mlp) > 0:
            h = dropout(h, self.dropout, self.training)
            for lin in self.encoder_mlp:
                h = dropout(h + lin(torch.relu(h)), self.dropout, self.training)
        return h

    def evolve(
        self,
        f0: Tensor,
        edge_index: Any = None,
        edge_weight: Tensor | None = None,
        *,
        adj: Tensor | EdgeList | None = None,
        callback: StepCallback | None = None,
    ) -> Tensor:
        """Integrate F from F(0) to F(T). ``callback(k, t, F)`` sees F after step k (k=0: F(0)).

        The graph is ``edge_index`` (or ``adj_t``, with ``edge_weight``) or a precomputed Ā
        (``adj``, e.g. ``model.conv.adjacency(edge_index, n)``).
        """
        check_callback(callback)
        order: Tensor | None = None
        if adj is None:
            if edge_index is None:
                raise ValueError("evolve needs edge_index (or adj_t) or a precomputed adj")
            adj, order = self.conv.propagation(edge_index, f0.size(0), edge_weight)
        inverse: Tensor | None = None
        if order is not None:  # evolve in the cache-friendly node order, return in the caller's
            inverse = inverse_permutation(order)
            f0 = permute_rows(f0, order, inverse)
        f, t = f0, 0.0
        if callback is not None:
            callback(0, t, f if inverse is None else f[inverse])
        shared = len(self.conv.ws) == 1
        ops = self.conv.operators(0) if shared else None
        # τβF(0) is the same at every step of equal τ: computed once per step size (≤ 2).
        fused = self.conv.residual and not (self.conv.nonlinear or self.conv.increment_norm)
        sources = {tau: self.conv.source(f0, tau) for tau in set(self.steps)} if fused else {}

        def step(k: int, f: Tensor) -> Tensor:
            tau = self.steps[k]
            src = sources.get(tau)
            step_ops = ops if shared else self.conv.operators(k)
            out: Tensor = self.conv(f, f0, adj=adj, step_size=tau, step=k, ops=step_ops, source=src)
            return out

        if self.checkpoint and callback is None and torch.is_grad_enabled():
            f = checkpointed_steps(step, len(self.steps), f)
            return f if inverse is None or order is None else permute_rows(f, inverse, order)
        for k, tau in enumerate(self.steps):
            f = step(k, f)
            t += tau
            if callback is not None:
                callback(k + 1, t, f if inverse is None else f[inverse])
        return f if inverse is None or order is None else permute_rows(f, inverse, order)

    def decode(self, f: Tensor) -> Tensor:
        """Y = ψ_DE(F(T)) (optional ReLU, dropout, linear)."""
        if self.output_relu:
            f = torch.relu(f)
        f = dropout(f, self.dropout, self.training)
        return self.decoder(f)

    def forward(
        self,
        x: Tensor,
        edge_index: Any,
        edge_weight: Tensor | None = None,
        *,
        callback: StepCallback | None = None,
    ) -> Tensor:
        """Class logits [n, k] for node features x [n, p] (dense or sparse CSR) on the graph
        ``edge_index`` [2, E] (optional ``edge_weight`` [E]) or ``adj_t`` [n, n]."""
        f0 = self.encode(x)
        f = self.evolve(f0, edge_index, edge_weight, callback=callback)
        return self.decode(f)


class GRAFFNoResidual(GRAFF):
    r"""The paper's ablation "GRAFF without residual connection": ``GRAFF(residual=False)``.

    .. math::
        \mathbf{F}(t+\tau) = \tau\big(-\mathbf{F}(t)\boldsymbol{\Omega}
        + \bar{\mathbf{A}}\mathbf{F}(t)\mathbf{W} + \beta\mathbf{F}(0)\big)

    i.e. GRAFF's Euler step (eq. 6) without the ``F(t) +``; with Ω = 0 and β = 0 it is
    F ← τĀFW, which is LFD for almost every F(0) on a non-bipartite graph whatever the
    spectrum of W (the paper's theorem on the residual connection). Same arguments,
    parameters, encoder and decoder as :class:`GRAFF`, except ``reorder``, which defaults to
    ``False`` here (the published ablation numbers were computed in the original node order;
    pass ``reorder=None`` for GRAFF's size-based default).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        w_type: str = "dd",
        omega_type: str = "diag",
        T: float = 3.0,
        step_size: float = 1.0,
        learn_beta: bool = True,
        beta: float = 0.0,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
        encoder_layers: int = 0,
        output_relu: bool = False,
        nonlinear: bool = False,
        time_dependent: bool = False,
        step_norm: bool = False,
        self_loops: bool = True,
        checkpoint: bool = False,
        reorder: bool | None = False,
    ) -> None:
        super().__init__(
            in_channels,
            hidden_channels,
            out_channels,
            w_type=w_type,
            omega_type=omega_type,
            T=T,
            step_size=step_size,
            learn_beta=learn_beta,
            beta=beta,
            input_dropout=input_dropout,
            dropout=dropout,
            encoder_layers=encoder_layers,
            output_relu=output_relu,
            nonlinear=nonlinear,
            time_dependent=time_dependent,
            step_norm=step_norm,
            residual=False,
            self_loops=self_loops,
            checkpoint=checkpoint,
            reorder=reorder,
        )
