"""Symmetric channel-mixing matrices W and Ω of GRAFF.

GRAFF (Di Giovanni et al. 2022, eq. 6) evolves node features with

.. math::
    \\mathbf{F}(t+\\tau) = \\mathbf{F}(t) + \\tau\\big(-\\mathbf{F}(t)\\boldsymbol{\\Omega}
    + \\bar{\\mathbf{A}}\\mathbf{F}(t)\\mathbf{W} + \\beta\\mathbf{F}(0)\\big)

where W and Ω are *symmetric* d×d matrices shared by all steps. Symmetry is what makes the
update the gradient flow of an energy, so every parametrisation here is symmetric by
construction: a raw, unconstrained parameter is stored and the symmetric matrix is rebuilt
from it in each forward pass (as PyG's ``AntiSymmetricConv`` does for its constraint).

The parametrisations are registered by name in :data:`W_TYPES` and :data:`OMEGA_TYPES`
(:class:`graff.registry.Registry`); a new one is a subclass of :class:`ChannelMixing` with
``@W_TYPES.register("name")``, and every name list, check and ``--help`` reads the registry.

Each module offers ``matrix()`` (the d×d tensor, differentiable), ``mix(x)`` (``x @ M``,
done as a cheap elementwise product when the matrix is diagonal) and ``forward()``, the
operator a step uses (the diagonal [d] when diagonal, else the matrix). The formulas are
batch-agnostic: called through :func:`torch.func.functional_call` with parameters stacked
on a leading dimension (K models trained side by side, :mod:`graff.nn.stacked`), they give
[K, d] or [K, d, d].
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from graff.registry import Registry

__all__ = [
    "DDW",
    "OMEGA_TYPES",
    "W_TYPES",
    "ChannelMixing",
    "ConstOmega",
    "DiagOmega",
    "DiagW",
    "NegProdW",
    "ProdW",
    "SumW",
    "SymOmega",
    "ZeroOmega",
    "make_omega",
    "make_w",
]


class ChannelMixing(nn.Module):
    """Base class of a symmetric channel-mixing matrix acting on the right of F."""

    #: True when the matrix is diagonal; then :meth:`diagonal` is all that is needed.
    is_diagonal: bool = False
    #: True when the matrix is identically zero (Ω = 0); the term is then skipped.
    is_zero: bool = False

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels <= 0:
            raise ValueError(f"channels must be a positive integer, got {channels}")
        self.channels = channels

    def matrix(self) -> Tensor:
        """The symmetric d×d matrix."""
        raise NotImplementedError

    def diagonal(self) -> Tensor:
        """The diagonal of the matrix, shape [d]."""
        return torch.diagonal(self.matrix(), dim1=-2, dim2=-1)

    def forward(self) -> Tensor:
        """The operator of a step: the diagonal [d] when diagonal, else the matrix [d, d]."""
        return self.diagonal() if self.is_diagonal else self.matrix()

    def mix(self, x: Tensor) -> Tensor:
        """Return ``x @ M`` for features ``x`` of shape [n, d]."""
        if self.is_diagonal:
            return x * self.diagonal()
        return x @ self.matrix()

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


#: The W parametrisations by name (``GRAFF(w_type=...)``).
W_TYPES: Registry[type[ChannelMixing]] = Registry("W type")
#: The Ω parametrisations by name (``GRAFF(omega_type=...)``).
OMEGA_TYPES: Registry[type[ChannelMixing]] = Registry("Ω type")


def _glorot_(weight: Tensor) -> None:
    bound = math.sqrt(6.0 / (weight.size(0) + weight.size(1)))
    nn.init.uniform_(weight, -bound, bound)


@W_TYPES.register("sum")
class SumW(ChannelMixing):
    """``sum``: W = (W' + W'ᵀ)/2 — eigenvalues of either sign (attraction and repulsion)."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.weight = nn.Parameter(torch.empty(channels, channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _glorot_(self.weight)

    def matrix(self) -> Tensor:
        return 0.5 * (self.weight + self.weight.mT)


@W_TYPES.register("prod")
class ProdW(ChannelMixing):
    """``prod``: W = W'ᵀW' — positive semi-definite, attraction only."""

    sign = 1.0

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.weight = nn.Parameter(torch.empty(channels, channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _glorot_(self.weight)

    def matrix(self) -> Tensor:
        m = self.weight.mT @ self.weight
        return m if self.sign > 0 else -m


@W_TYPES.register("neg_prod")
class NegProdW(ProdW):
    """``neg_prod``: W = −W'ᵀW' — negative semi-definite, repulsion only."""

    sign = -1.0


@W_TYPES.register("diag")
class DiagW(ChannelMixing):
    """``diag``: W = diag(w) — each channel evolves on its own (GRAFF (D) in the paper)."""

    is_diagonal = True

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.weight = nn.Parameter(torch.empty(channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.weight, -1.0, 1.0)

    def diagonal(self) -> Tensor:
        return self.weight

    def matrix(self) -> Tensor:
        return torch.diag_embed(self.weight)


@W_TYPES.register("dd")
class DDW(ChannelMixing):
    """``dd``: diagonally-dominant W (GRAFF (DD) in the paper).

    W⁰ is symmetric with zero diagonal, and
    :math:`w_a = q_a \\sum_b |W^0_{ab}| + r_a`, :math:`W = \\mathrm{diag}(w) + W^0`.
    By Gershgorin's theorem q and r move the eigenvalues of W freely to either side of 0.
    Parameters: W' (d², symmetrised into W⁰), q (d) and r (d).
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.weight = nn.Parameter(torch.empty(channels, channels))
        self.q = nn.Parameter(torch.empty(channels))
        self.r = nn.Parameter(torch.empty(channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _glorot_(self.weight)
        nn.init.uniform_(self.q, -1.0, 1.0)
        nn.init.uniform_(self.r, -1.0, 1.0)

    def matrix(self) -> Tensor:
        sym = 0.5 * (self.weight + self.weight.mT)
        w0 = sym - torch.diag_embed(torch.diagonal(sym, dim1=-2, dim2=-1))
        w = self.q * w0.abs().sum(dim=-1) + self.r
        return w0 + torch.diag_embed(w)


@OMEGA_TYPES.register("diag")
class DiagOmega(DiagW):
    """``diag``: Ω = diag(ω), a free external potential per channel."""


@OMEGA_TYPES.register("const")
class ConstOmega(ChannelMixing):
    """``const``: Ω = ω·I with one learnable scalar ω."""

    is_diagonal = True

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.weight = nn.Parameter(torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.weight, -1.0, 1.0)

    def diagonal(self) -> Tensor:
        return self.weight.expand(*self.weight.shape[:-1], self.channels)

    def mix(self, x: Tensor) -> Tensor:
        return x * self.weight

    def matrix(self) -> Tensor:
        return torch.diag_embed(self.diagonal())


@OMEGA_TYPES.register("zero")
class ZeroOmega(ChannelMixing):
    """``zero``: Ω = 0 (no external potential)."""

    is_diagonal = True
    is_zero = True
    _zero: Tensor

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.register_buffer("_zero", torch.zeros(channels))

    def reset_parameters(self) -> None:
        pass

    def diagonal(self) -> Tensor:
        return self._zero

    def mix(self, x: Tensor) -> Tensor:
        return torch.zeros_like(x)

    def matrix(self) -> Tensor:
        return torch.diag_embed(self._zero)


@OMEGA_TYPES.register("sym")
class SymOmega(SumW):
    """``sym``: a full symmetric Ω = (Ω' + Ω'ᵀ)/2."""


def _make(kind: str, registry: Registry[type[ChannelMixing]], ch: int) -> ChannelMixing:
    if not isinstance(kind, str):
        raise TypeError(
            f"the {registry.kind} must be a name, one of {', '.join(registry)}; got "
            f"{kind!r:.40} ({type(kind).__name__})"
        )
    key = kind.lower().replace("-", "_")
    if key not in registry:
        raise ValueError(registry.unknown_message(kind))
    return registry[key](ch)


def make_w(w_type: str, channels: int) -> ChannelMixing:
    """Build the W parametrisation named ``w_type`` (sum, prod, neg_prod, diag, dd).

    Example:
        >>> import torch
        >>> from graff.nn import make_w
        >>> W = make_w("neg_prod", 4)()  # W = −W'ᵀW': repulsive, every eigenvalue ≤ 0
        >>> torch.equal(W, W.T), bool(torch.linalg.eigvalsh(W).max() <= 1e-6)
        (True, True)
    """
    return _make(w_type, W_TYPES, channels)


def make_omega(omega_type: str, channels: int) -> ChannelMixing:
    """Build the Ω parametrisation named ``omega_type`` (diag, const, zero, sym)."""
    return _make(omega_type, OMEGA_TYPES, channels)
