"""Tests of the symmetric channel-mixing parametrisations W and Ω (graff.nn.parametrisations)."""

from __future__ import annotations

import pytest
import torch

from graff.nn import GRAFF
from graff.nn.parametrisations import (
    OMEGA_TYPES,
    W_TYPES,
    ChannelMixing,
    NegProdW,
    make_omega,
    make_w,
)

D = 6
ALL_W = ["sum", "prod", "neg_prod", "diag", "dd"]
ALL_OMEGA = ["diag", "const", "zero", "sym"]


def _randomised(module: ChannelMixing, seed: int) -> ChannelMixing:
    """Return ``module`` in float64 with every raw parameter redrawn from N(0, 1)."""
    module = module.double()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return module


def test_registries_hold_the_documented_types() -> None:
    """W_TYPES and OMEGA_TYPES hold exactly the W and Ω names of the paper / public code."""
    assert sorted(W_TYPES) == sorted(ALL_W)
    assert sorted(OMEGA_TYPES) == sorted(ALL_OMEGA)


@pytest.mark.parametrize("w_type", ALL_W)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_w_is_symmetric(w_type: str, seed: int) -> None:
    """Every W parametrisation yields a symmetric d×d matrix for arbitrary raw parameters."""
    w = _randomised(make_w(w_type, D), seed).matrix()
    assert w.shape == (D, D)
    torch.testing.assert_close(w, w.t(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("omega_type", ALL_OMEGA)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_omega_is_symmetric(omega_type: str, seed: int) -> None:
    """Every Ω parametrisation yields a symmetric d×d matrix for arbitrary raw parameters."""
    om = _randomised(make_omega(omega_type, D), seed).matrix()
    assert om.shape == (D, D)
    torch.testing.assert_close(om, om.t(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_prod_is_psd_and_neg_prod_is_nsd(seed: int) -> None:
    """prod gives W = W'ᵀW' ⪰ 0 and neg_prod gives W = −W'ᵀW' ⪯ 0 (eigvalsh)."""
    prod = _randomised(make_w("prod", D), seed).matrix()
    neg = _randomised(make_w("neg_prod", D), seed).matrix()
    ev_prod = torch.linalg.eigvalsh(prod)
    ev_neg = torch.linalg.eigvalsh(neg)
    assert ev_prod.min() >= -1e-10
    assert ev_neg.max() <= 1e-10
    # Not trivially zero: a random W' has full rank, so the spectrum is strictly signed.
    assert ev_prod.max() > 1e-3
    assert ev_neg.min() < -1e-3


def test_prod_and_neg_prod_match_formula() -> None:
    """prod is W'ᵀW' and neg_prod is −W'ᵀW' of the same raw W'."""
    prod = _randomised(make_w("prod", D), 3)
    neg = _randomised(make_w("neg_prod", D), 3)
    raw = prod.weight.detach()
    torch.testing.assert_close(prod.matrix(), raw.t() @ raw)
    torch.testing.assert_close(neg.matrix(), -(raw.t() @ raw))


def test_sum_matches_formula_and_has_both_signs() -> None:
    """sum is the symmetric part of W' and can have eigenvalues of both signs."""
    w = _randomised(make_w("sum", D), 4)
    raw = w.weight.detach()
    torch.testing.assert_close(w.matrix(), 0.5 * (raw + raw.t()))
    ev = torch.linalg.eigvalsh(w.matrix())
    assert ev.min() < 0 < ev.max()


def test_diag_types_match_formula() -> None:
    """diag W = diag(w), diag Ω = diag(ω), const Ω = ω·I, zero Ω = 0, sym Ω = (Ω'+Ω'ᵀ)/2."""
    dw = _randomised(make_w("diag", D), 5)
    torch.testing.assert_close(dw.matrix(), torch.diag(dw.weight.detach()))
    do = _randomised(make_omega("diag", D), 5)
    torch.testing.assert_close(do.matrix(), torch.diag(do.weight.detach()))
    co = _randomised(make_omega("const", D), 5)
    omega = float(co.weight.detach().item())
    torch.testing.assert_close(co.matrix(), omega * torch.eye(D, dtype=torch.float64))
    zo = make_omega("zero", D).double()
    torch.testing.assert_close(zo.matrix(), torch.zeros(D, D, dtype=torch.float64))
    so = _randomised(make_omega("sym", D), 5)
    raw = so.weight.detach()
    torch.testing.assert_close(so.matrix(), 0.5 * (raw + raw.t()))


def _dd_reference(raw: torch.Tensor, q: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Hand-written DD formula with explicit loops (W0 = sym part, zero diagonal)."""
    d = raw.shape[0]
    w0 = torch.zeros(d, d, dtype=raw.dtype)
    for a in range(d):
        for b in range(d):
            if a != b:
                w0[a, b] = 0.5 * (raw[a, b] + raw[b, a])
    out = w0.clone()
    for a in range(d):
        out[a, a] = q[a] * sum(abs(float(w0[a, b])) for b in range(d)) + r[a]
    return out


@pytest.mark.parametrize("seed", range(4))
def test_dd_matches_reference_formula(seed: int) -> None:
    """dd: W = diag(w) + W0, W0 = sym(W') with zero diagonal, w_a = q_a Σ_b |W0_ab| + r_a."""
    w = _randomised(make_w("dd", D), seed)
    ref = _dd_reference(w.weight.detach(), w.q.detach(), w.r.detach())
    torch.testing.assert_close(w.matrix().detach(), ref, rtol=0, atol=1e-12)


def test_dd_diagonal_dominance_follows_q_and_r() -> None:
    """With q ≥ 1 and r > 0 every DD row is strictly diagonally dominant, so W ≻ 0 (Gershgorin)."""
    w = _randomised(make_w("dd", D), 7)
    with torch.no_grad():
        w.q.uniform_(1.0, 2.0)
        w.r.uniform_(0.1, 0.5)
    assert torch.linalg.eigvalsh(w.matrix().detach()).min() > 0
    with torch.no_grad():
        w.q.uniform_(-2.0, -1.0)
        w.r.uniform_(-0.5, -0.1)
    assert torch.linalg.eigvalsh(w.matrix().detach()).max() < 0


@pytest.mark.parametrize(
    ("kind", "name"), [("w", t) for t in ALL_W] + [("omega", t) for t in ALL_OMEGA]
)
def test_mix_equals_right_multiplication(kind: str, name: str) -> None:
    """``mix(x)`` equals ``x @ matrix()`` and ``diagonal()`` is the matrix diagonal."""
    module = make_w(name, D) if kind == "w" else make_omega(name, D)
    module = _randomised(module, 11)
    x = torch.randn(9, D, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    m = module.matrix()
    torch.testing.assert_close(module.mix(x), x @ m, rtol=0, atol=1e-12)
    torch.testing.assert_close(module.diagonal(), torch.diagonal(m), rtol=0, atol=0)
    if module.is_diagonal:
        torch.testing.assert_close(m, torch.diag(torch.diagonal(m)), rtol=0, atol=0)
    if module.is_zero:
        assert not m.any()


@pytest.mark.parametrize("w_type", ALL_W)
def test_w_stays_symmetric_after_adam_steps(w_type: str) -> None:
    """Training a GRAFF model with Adam on a random loss keeps ``model.W`` (and Ω) symmetric."""
    torch.manual_seed(0)
    n, p, d, k = 10, 4, 5, 3
    model = GRAFF(p, d, k, w_type=w_type, omega_type="sym", T=2.0, step_size=0.5).double()
    x = torch.randn(n, p, dtype=torch.float64)
    src = torch.arange(n)
    edge_index = torch.stack([torch.cat([src, (src + 1) % n]), torch.cat([(src + 1) % n, src])])
    target = torch.randn(n, k, dtype=torch.float64)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    w_before = model.W
    for _ in range(5):
        opt.zero_grad()
        loss = ((model(x, edge_index) - target) ** 2).sum()
        loss.backward()
        opt.step()
    w_after = model.W
    assert not torch.allclose(w_before, w_after), "W did not change: the test is vacuous"
    torch.testing.assert_close(w_after, w_after.t(), rtol=0, atol=1e-12)
    om = model.Omega
    torch.testing.assert_close(om, om.t(), rtol=0, atol=1e-12)


def test_time_dependent_ws_stay_symmetric_after_adam_steps() -> None:
    """With time_dependent=True each W_k stays symmetric under Adam training."""
    torch.manual_seed(1)
    n, p, d, k = 8, 3, 4, 2
    model = GRAFF(p, d, k, w_type="sum", T=1.5, step_size=0.5, time_dependent=True).double()
    x = torch.randn(n, p, dtype=torch.float64)
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3, 4, 5], [1, 0, 2, 1, 3, 2, 5, 4]])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(4):
        opt.zero_grad()
        model(x, edge_index).pow(2).sum().backward()
        opt.step()
    ws = model.W
    assert ws.shape == (3, d, d)
    torch.testing.assert_close(ws, ws.transpose(1, 2), rtol=0, atol=1e-12)


def test_unknown_w_type_lists_valid_names() -> None:
    """An unknown W name raises ValueError whose message lists every valid W type."""
    with pytest.raises(ValueError) as err:
        make_w("banana", D)
    for name in ALL_W:
        assert name in str(err.value)
    assert "banana" in str(err.value)


def test_unknown_omega_type_lists_valid_names() -> None:
    """An unknown Ω name raises ValueError whose message lists every valid Ω type."""
    with pytest.raises(ValueError) as err:
        make_omega("prod", D)
    for name in ALL_OMEGA:
        assert name in str(err.value)


def test_unknown_type_in_model_constructor_raises() -> None:
    """GRAFF(w_type=...) / GRAFF(omega_type=...) with an unknown name raises ValueError."""
    with pytest.raises(ValueError, match="dd"):
        GRAFF(3, 4, 2, w_type="nope")
    with pytest.raises(ValueError, match="const"):
        GRAFF(3, 4, 2, omega_type="nope")


def test_hyphenated_name_is_accepted() -> None:
    """``make_w("neg-prod", d)`` builds the negative semi-definite neg_prod parametrisation."""
    w = make_w("neg-prod", D)
    assert isinstance(w, NegProdW)
    w = _randomised(w, 0)
    assert torch.linalg.eigvalsh(w.matrix().detach()).max() <= 1e-10


@pytest.mark.parametrize("channels", [0, -3])
def test_non_positive_channels_raise(channels: int) -> None:
    """A non-positive width d raises ValueError naming ``channels``."""
    with pytest.raises(ValueError, match="channels"):
        make_w("dd", channels)
    with pytest.raises(ValueError, match="channels"):
        make_omega("diag", channels)


def test_registries_list_the_types_and_refuse_duplicates() -> None:
    """W_TYPES / OMEGA_TYPES are graff.registry.Registry mappings in registration order;
    registering an existing name is refused."""
    from graff.registry import Registry

    assert isinstance(W_TYPES, Registry) and isinstance(OMEGA_TYPES, Registry)
    assert list(W_TYPES) == ALL_W and ", ".join(OMEGA_TYPES) == ", ".join(ALL_OMEGA)
    assert "dd" in W_TYPES and "dd" not in OMEGA_TYPES
    with pytest.raises(ValueError, match="already registered"):
        W_TYPES.register("dd", NegProdW)


def test_a_registered_type_is_usable_by_name() -> None:
    """One registration makes a new parametrisation available to make_w and GRAFF."""

    @W_TYPES.register("test_identity")
    class IdentityW(ChannelMixing):
        is_diagonal = True

        def reset_parameters(self) -> None:
            pass

        def diagonal(self) -> torch.Tensor:
            return torch.ones(self.channels)

        def matrix(self) -> torch.Tensor:
            return torch.eye(self.channels)

    try:
        assert isinstance(make_w("test_identity", D), IdentityW)
        model = GRAFF(3, D, 2, w_type="test_identity")
        assert torch.equal(model.W, torch.eye(D))
    finally:
        del W_TYPES._entries["test_identity"]
