r"""Linear GRAFF on precomputed propagations: F(T)[rows] from the rows of S_k = Ā^k [X, 1].

After the n explicit-Euler steps of :class:`graff.nn.GRAFF` (eq. 6 of Di Giovanni et al.
2022; a non-integer T/τ ends with a shorter step, :func:`graff.nn.euler_steps`)

.. math::
    \mathbf{F}(T) = \sum_{k=0}^{n} \bar{\mathbf{A}}^k\,\mathbf{F}(0)\,\mathbf{Q}_k,
    \qquad \mathbf{F}(0) = [\mathbf{X}, \mathbf{1}]\begin{bmatrix}\mathbf{E}\\
    \mathbf{b}^\top\end{bmatrix}

exactly (left and right products commute), where the d×d coefficients start at Q_0 = I and
each step s of size τ_s maps

.. math::
    \mathbf{Q}_k \leftarrow r\,\mathbf{Q}_k - \tau_s\mathbf{Q}_k\boldsymbol{\Omega}
    + \tau_s\mathbf{Q}_{k-1}\mathbf{W}_s \;(k \ge 1),\qquad
    \mathbf{Q}_0 \leftarrow r\,\mathbf{Q}_0 - \tau_s\mathbf{Q}_0\boldsymbol{\Omega}
    + \tau_s\beta\mathbf{I}

(r = 1 with the residual connection, 0 for the paper's ablation without it; W_s is the
step's W when time-dependent). So F(T)[rows] = Σ_k S_k[rows] [E; bᵀ] Q_k needs only the
rows of S (:func:`graff.scale.precompute_propagation`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from graff.errors import ConfigError
from graff.nn.checks import check_probs, check_sizes
from graff.nn.functional import dropout
from graff.nn.graff import GRAFF, euler_steps
from graff.nn.graff_conv import GRAFFConv
from graff.scale.propagation import DEFAULT_BLOCK_ROWS, precompute_propagation
from graff.scale.store import StoredPropagation, precompute_on_disk

__all__ = ["PrecomputedGRAFF", "precompute_refusal", "propagation_coefficients"]


def propagation_coefficients(
    steps: Sequence[float],
    ws: Sequence[Tensor],
    omega: Tensor,
    beta: Tensor,
    *,
    residual: bool = True,
) -> list[Tensor]:
    """The d×d matrices Q_0 … Q_n with F(n) = Σ_k Ā^k F(0) Q_k after the Euler steps of
    sizes ``steps`` (see the module docstring), differentiable in W, Ω and β.

    Args:
        steps: the step sizes τ_s (:func:`graff.nn.euler_steps`).
        ws: W_s of each step ([d, d]); one matrix for a W shared by every step.
        omega: Ω [d, d].
        beta: β (a tensor of one element).
        residual: the ``F +`` of the Euler step (False: the ablation without it).
    """
    d = omega.size(-1)
    eye = torch.eye(d, dtype=omega.dtype, device=omega.device)
    qs: list[Tensor] = [eye]
    for s, tau in enumerate(steps):
        w = ws[min(s, len(ws) - 1)]
        keep = (eye if residual else torch.zeros_like(eye)) - tau * omega
        new = [q @ keep for q in qs]  # every Q_k of step s reads the Q's of step s − 1
        new[0] = new[0] + (tau * beta.reshape(())) * eye
        for k in range(1, len(qs)):
            new[k] = new[k] + tau * (qs[k - 1] @ w)
        new.append(tau * (qs[-1] @ w))
        qs = new
    return qs


def precompute_refusal(*, nonlinear: bool, encoder_layers: int, step_norm: bool) -> str | None:
    """Why a GRAFF with these options cannot be evaluated from precomputed propagations
    (the option, the reason and what to do), or None when it can."""
    refused = {
        "nonlinear": (nonlinear, "GRAFF-NL's ReLU on each increment is not linear in F(0)"),
        "encoder_layers": (
            encoder_layers != 0,
            f"encoder_layers={encoder_layers} is an MLP encoder, not linear in X",
        ),
        "step_norm": (
            step_norm,
            "step_norm standardises each increment over all nodes at every step",
        ),
    }
    for option, (on, why) in refused.items():
        if on:
            return (
                f"{option} set: {why}; train it with graff.nn.GRAFF (full graph) or drop {option}"
            )
    return None


class PrecomputedGRAFF(nn.Module):
    r"""Linear :class:`graff.nn.GRAFF` evaluated from precomputed propagations S_k = Ā^k [X, 1].

    Same arguments, parameters and state-dict keys as :class:`~graff.nn.GRAFF` (a trained
    GRAFF's ``state_dict`` loads into it and back; :meth:`from_graff`), but :meth:`forward`
    takes rows of S (:meth:`precompute`, :func:`~graff.scale.precompute_propagation`), so
    training and inference touch only the nodes of a batch; in eval mode it equals GRAFF's
    output on those nodes up to floating-point rounding (module docstring for the maths).

    Only the variants whose evolution is linear in F(0) can be precomputed; these raise a
    :class:`~graff.errors.ConfigError` naming the option: ``nonlinear`` (GRAFF-NL),
    ``encoder_layers`` > 0 (the residual MLP encoder), ``step_norm`` (per-step
    standardisation over the nodes). ``dropout`` (before the decoder) is applied as GRAFF
    does, per node. ``input_dropout`` is an approximation in training mode: GRAFF drops
    entries of X before propagating, here the entries of each S_k[rows] (the X columns, not
    the ones column of the bias) are dropped independently; eval mode is exact.
    ``checkpoint`` and ``reorder`` are accepted and have no effect (no steps run here).

    Its arguments (``in_channels``, ``hidden_channels``, ``out_channels``, ``w_type``,
    ``omega_type``, ``T``, ``step_size``, ``learn_beta``, ``beta``, ``input_dropout``,
    ``dropout``, ``encoder_layers``, ``output_relu``, ``nonlinear``, ``time_dependent``,
    ``step_norm``, ``residual``, ``self_loops``, ``checkpoint``, ``reorder``) are
    :class:`graff.nn.GRAFF`'s.

    Shapes:
        - input: S rows [b, num_steps + 1, in_channels + 1]
        - output: class logits [b, out_channels]

    Example::

        graff = GRAFF(p, 64, c, T=2.5).eval()
        model = PrecomputedGRAFF.from_graff(graff).eval()
        s = model.precompute(x, edge_index)          # once, [n, 4, p + 1]
        logits = model(s[rows])                      # == graff(x, edge_index)[rows]
        s = model.precompute_on_disk(x, edge_index, "S/")  # or on disk, resumable
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
        residual: bool = True,
        self_loops: bool = True,
        checkpoint: bool = False,
        reorder: bool | None = None,
    ) -> None:
        super().__init__()
        why = precompute_refusal(
            nonlinear=nonlinear, encoder_layers=encoder_layers, step_norm=step_norm
        )
        if why is not None:
            raise ConfigError(f"PrecomputedGRAFF cannot precompute GRAFF with {why}")
        check_sizes(
            in_channels=in_channels, hidden_channels=hidden_channels, out_channels=out_channels
        )
        check_probs(input_dropout=input_dropout, dropout=dropout)
        del checkpoint, reorder  # accepted for GRAFF's signature; nothing to checkpoint
        self.steps = euler_steps(T, step_size)
        self.T = float(T)
        self.in_channels = in_channels
        self.input_dropout = input_dropout
        self.dropout = dropout
        self.output_relu = output_relu
        self.self_loops = self_loops
        self.encoder = nn.Linear(in_channels, hidden_channels)
        self.conv = GRAFFConv(
            hidden_channels,
            w_type,
            omega_type,
            step_size,
            learn_beta=learn_beta,
            beta=beta,
            num_w=len(self.steps) if time_dependent else 1,
            self_loops=self_loops,
            residual=residual,
        )
        self.decoder = nn.Linear(hidden_channels, out_channels)

    @classmethod
    def from_graff(cls, model: GRAFF) -> PrecomputedGRAFF:
        """The precomputed twin of a :class:`graff.nn.GRAFF`, with a copy of its parameters
        (refused with a :class:`~graff.errors.ConfigError` for a nonlinear variant)."""
        conv = model.conv
        out = cls(
            model.encoder.in_features,
            model.encoder.out_features,
            model.decoder.out_features,
            w_type=conv.w_type,
            omega_type=conv.omega_type,
            T=model.T,
            step_size=conv.step_size,
            learn_beta=isinstance(conv.beta, nn.Parameter),
            beta=conv.beta_init,
            input_dropout=model.input_dropout,
            dropout=model.dropout,
            encoder_layers=len(model.encoder_mlp),
            output_relu=model.output_relu,
            nonlinear=conv.nonlinear,
            time_dependent=len(conv.ws) > 1,
            step_norm=conv.increment_norm,
            residual=conv.residual,
            self_loops=conv.self_loops,
        )
        ref = model.encoder.weight
        out.to(device=ref.device, dtype=ref.dtype)
        out.load_state_dict(model.state_dict())
        out.train(model.training)
        return out

    @classmethod
    def from_model(cls, model: nn.Module) -> PrecomputedGRAFF:
        """:meth:`from_graff` for the model registry (``ModelSpec.precomputed``)."""
        if not isinstance(model, GRAFF):
            raise TypeError(f"PrecomputedGRAFF is built from a GRAFF, got {type(model).__name__}")
        return cls.from_graff(model)

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()
        self.conv.reset_parameters()
        self.decoder.reset_parameters()

    @property
    def num_steps(self) -> int:
        """The number n of Euler steps; S holds Ā^0 … Ā^n."""
        return len(self.steps)

    def precompute(
        self,
        x: Tensor,
        edge_index: Any,
        edge_weight: Tensor | None = None,
        *,
        block_rows: int = DEFAULT_BLOCK_ROWS,
    ) -> Tensor:
        """S = [Ā^k [X, 1]]_k [n, num_steps + 1, p + 1] for this model's steps, self-loops and
        dtype (:func:`~graff.scale.precompute_propagation`)."""
        return precompute_propagation(
            x,
            edge_index,
            self.num_steps,
            edge_weight=edge_weight,
            self_loops=self.self_loops,
            block_rows=block_rows,
            dtype=self.encoder.weight.dtype,
        )

    def precompute_on_disk(
        self,
        x: Tensor,
        edge_index: Any,
        folder: str | os.PathLike[str],
        edge_weight: Tensor | None = None,
        *,
        block_rows: int = DEFAULT_BLOCK_ROWS,
        progress: bool = True,
    ) -> StoredPropagation:
        """S as :meth:`precompute`, written to ``folder`` block by block and resumable
        (:func:`~graff.scale.precompute_on_disk`); ``S[rows]`` of the result feeds
        :meth:`forward`."""
        return precompute_on_disk(
            x,
            edge_index,
            self.num_steps,
            folder,
            edge_weight=edge_weight,
            self_loops=self.self_loops,
            block_rows=block_rows,
            dtype=self.encoder.weight.dtype,
            progress=progress,
        )

    def coefficients(self) -> list[Tensor]:
        """Q_0 … Q_n (differentiable) for the current W, Ω and β."""
        ws = [w.matrix() for w in self.conv.ws]  # type: ignore[operator]
        omega = self.conv.omega.matrix()
        return propagation_coefficients(
            self.steps, ws, omega, self.conv.beta, residual=self.conv.residual
        )

    def evolve(self, s: Tensor) -> Tensor:
        """F(T)[rows] [b, d] from the rows of S [b, n + 1, p + 1]."""
        k, c = self.num_steps + 1, self.in_channels + 1
        if s.dim() != 3 or s.shape[1:] != (k, c):
            raise ValueError(
                f"S rows must have shape [b, {k}, {c}] (Ā^0…Ā^{k - 1} of [X, 1]) for this "
                f"model, got {tuple(s.shape)}; build S with model.precompute(x, edge_index)"
            )
        if self.training and self.input_dropout > 0:
            feats = dropout(s[..., :-1], self.input_dropout, True)
            s = torch.cat([feats, s[..., -1:]], dim=-1)
        enc = torch.cat([self.encoder.weight.t(), self.encoder.bias.unsqueeze(0)])  # [p + 1, d]
        m = torch.stack([enc @ q for q in self.coefficients()])  # [n + 1, p + 1, d]
        return s.reshape(s.size(0), k * c) @ m.reshape(k * c, -1)

    def decode(self, f: Tensor) -> Tensor:
        """Y = ψ_DE(F(T)) (optional ReLU, dropout, linear), as :meth:`graff.nn.GRAFF.decode`."""
        if self.output_relu:
            f = torch.relu(f)
        f = dropout(f, self.dropout, self.training)
        return self.decoder(f)

    def forward(self, s: Tensor, *graph: Any) -> Tensor:
        """Class logits [b, k] of the nodes whose rows of S [b, n + 1, p + 1] are given."""
        if graph or not isinstance(s, Tensor):
            raise TypeError(
                "PrecomputedGRAFF takes only rows of the precomputed S = [Ā^k [X, 1]]_k, not "
                "the features and graph: build S once with model.precompute(x, edge_index), "
                "then call model(S[rows])"
            )
        return self.decode(self.evolve(s))

    def extra_repr(self) -> str:
        return f"T={self.T}, steps={self.num_steps}"
