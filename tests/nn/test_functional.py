"""graff.nn.functional.dropout and graff.perf.tune_allocator."""

from __future__ import annotations

import sys

import pytest
import torch

from graff.nn.functional import dropout, dropout_mask
from graff.perf import tune_allocator


@pytest.mark.parametrize("p", [0.1, 0.4232, 0.9])
def test_dropout_drops_the_requested_fraction_and_is_unbiased(p: float) -> None:
    torch.manual_seed(0)
    x = torch.ones(400, 500)
    y = dropout(x, p, training=True)
    dropped = float((y == 0).float().mean())
    # 200k Bernoulli draws: the std of the fraction is ≤ 0.0012; 5 std of slack.
    assert abs(dropped - p) < 0.006
    assert abs(float(y.mean()) - 1.0) < 0.02
    kept = y[y != 0]
    assert torch.allclose(kept, torch.full_like(kept, float(kept[0])))
    assert float(kept[0]) == pytest.approx(1 / (1 - p), rel=1e-4)


def test_dropout_mask_uses_all_random_bits() -> None:
    # Every 16-bit chunk of the 64-bit draws must be uniform: with a biased top chunk
    # (torch's plain random_() leaves bit 63 at 0) every 4th element would be kept too often.
    torch.manual_seed(1)
    keep = dropout_mask((100_000, 4), 0.5, torch.device("cpu"))
    rates = keep.float().mean(0)
    assert torch.all((rates - 0.5).abs() < 0.01), rates


def test_dropout_backward_is_the_same_mask() -> None:
    torch.manual_seed(2)
    x = torch.randn(50, 30, dtype=torch.float64, requires_grad=True)
    y = dropout(x, 0.3)
    g = torch.randn_like(y)
    y.backward(g)
    assert x.grad is not None
    ratio = y.detach() / x.detach()  # the applied factor: 0 or 1/(1 - p_eff)
    assert torch.allclose(x.grad, g * ratio)


def test_dropout_is_reproducible_from_the_seed_and_identity_when_not_training() -> None:
    x = torch.randn(64, 64)
    torch.manual_seed(3)
    a = dropout(x, 0.5)
    torch.manual_seed(3)
    b = dropout(x, 0.5)
    assert torch.equal(a, b)
    assert not torch.equal(a, dropout(x, 0.5))
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x


def test_dropout_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        dropout(torch.ones(3), 1.0)
    with pytest.raises(TypeError, match="floating-point"):
        dropout(torch.ones(3, dtype=torch.long), 0.5)


def test_dropout_near_one_keeps_a_finite_scale() -> None:
    torch.manual_seed(4)
    y = dropout(torch.ones(10_000), 0.999999)
    assert torch.isfinite(y).all()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_tune_allocator_applies_on_glibc_and_is_idempotent() -> None:
    assert tune_allocator() is True
    assert tune_allocator() is True


def test_permute_rows_matches_indexing_with_gradients() -> None:
    from graff.nn.functional import permute_rows

    gen = torch.Generator().manual_seed(5)
    order = torch.randperm(30, generator=gen)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(30)
    x = torch.randn(30, 4, dtype=torch.float64, requires_grad=True)
    g = torch.randn(30, 4, dtype=torch.float64, generator=gen)
    out = permute_rows(x, order, inverse)
    assert torch.equal(out, x.detach()[order])
    (out * g).sum().backward()
    assert x.grad is not None
    assert torch.equal(x.grad, g[inverse])
    assert torch.autograd.gradcheck(lambda t: permute_rows(t, order, inverse), (x,))
