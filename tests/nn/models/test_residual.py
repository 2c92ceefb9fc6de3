"""graff.nn.models.residual: the residual recipe of Platonov et al. (ICLR 2023), checked
against dense references on a tiny hand-made graph in float64."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from graff.nn import (
    ResidualGAT,
    ResidualGCN,
    ResidualGNN,
    ResidualGT,
    ResidualMLP,
    ResidualSAGE,
)
from graff.nn.models.residual import (
    AttentionModule,
    GATModule,
    GCNModule,
    ResidualBlock,
    SAGEModule,
    make_norm,
)

N = 6
# A path 0-1-2-3 plus the edge 1-3, node 4 joined to 0, node 5 isolated: degrees differ.
_UNDIRECTED = [(0, 1), (1, 2), (2, 3), (1, 3), (0, 4)]
EDGES = torch.tensor([[a for a, b in _UNDIRECTED] + [b for a, b in _UNDIRECTED],
                      [b for a, b in _UNDIRECTED] + [a for a, b in _UNDIRECTED]])  # fmt: skip


def dense_adjacency() -> Tensor:
    a = torch.zeros(N, N, dtype=torch.float64)
    a[EDGES[1], EDGES[0]] = 1.0  # row i: the messages node i receives
    return a


def dense_attention(structure: object, alpha: Tensor) -> Tensor:
    """α [H, E] (head-major) on the entries of ``structure`` as a dense [H, N, N]."""
    out = torch.zeros(alpha.size(0), N, N, dtype=alpha.dtype)
    out[:, structure.row, structure.col] = alpha  # type: ignore[attr-defined]
    return out


CLASSES = [ResidualMLP, ResidualGCN, ResidualSAGE, ResidualGAT, ResidualGT]


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("norm", ["none", "layer", "batch"])
def test_shapes_and_backward(cls: type[ResidualGNN], norm: str) -> None:
    torch.manual_seed(0)
    model = cls(5, 16, 3, num_layers=2, norm=norm, dropout=0.1)
    x = torch.randn(N, 5)
    out = model(x, EDGES)
    assert out.shape == (N, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    blocks = 2 * (2 if cls is ResidualGT else 1)  # a GT layer: attention + feed-forward
    assert len(model.blocks) == blocks


@pytest.mark.parametrize("cls", CLASSES)
def test_sparse_features_give_the_dense_output(cls: type[ResidualGNN]) -> None:
    torch.manual_seed(0)
    model = cls(5, 16, 3).eval()
    x = torch.randn(N, 5) * (torch.rand(N, 5) < 0.4)
    torch.testing.assert_close(model(x.to_sparse_csr(), EDGES), model(x, EDGES))


def test_gcn_module_aggregates_with_the_symmetric_normalisation() -> None:
    """M(H) before its feed-forward network is D̃^{-1/2}(A+I)D̃^{-1/2} H."""
    model = ResidualGCN(5, 8, 3).double()
    module = model.blocks[0].module
    assert isinstance(module, GCNModule)
    module.ffn = nn.Identity()
    z = torch.randn(N, 8, dtype=torch.float64)
    a = dense_adjacency() + torch.eye(N, dtype=torch.float64)
    d = a.sum(1).rsqrt()
    expected = d[:, None] * a * d[None, :] @ z
    torch.testing.assert_close(module(z, model.graph(EDGES, N, None)), expected)


def test_sage_module_concatenates_the_mean_of_the_neighbours() -> None:
    model = ResidualSAGE(5, 8, 3).double()
    module = model.blocks[0].module
    assert isinstance(module, SAGEModule)
    assert module.ffn.lin1.in_features == 16
    module.ffn = nn.Identity()
    z = torch.randn(N, 8, dtype=torch.float64)
    a = dense_adjacency()
    mean = a @ z / a.sum(1, keepdim=True).clamp(min=1)  # the isolated node: 0
    out = module(z, model.graph(EDGES, N, None))
    torch.testing.assert_close(out, torch.cat([z, mean], dim=-1))
    assert bool((out[5, 8:] == 0).all())


def _gat_reference(module: GATModule, z: Tensor) -> Tensor:
    """Dense α [H, N, N]: softmax over j ∈ N(i) ∪ {i} of LeakyReLU(u·z_j + c + v·z_i)."""
    u, v = module.att_src(z), module.att_dst(z)  # [N, H]
    scores = torch.nn.functional.leaky_relu(v.t()[:, :, None] + u.t()[:, None, :], 0.2)
    support = (dense_adjacency() + torch.eye(N, dtype=z.dtype)) > 0
    return torch.softmax(scores.masked_fill(~support, float("-inf")), dim=-1)


def test_gat_attention_rows_sum_to_one_over_the_neighbourhood() -> None:
    torch.manual_seed(1)
    model = ResidualGAT(5, 16, 3, heads=4).double()
    module = model.blocks[0].module
    assert isinstance(module, GATModule)
    graph = model.graph(EDGES, N, None)
    z = torch.randn(N, 16, dtype=torch.float64)
    alpha = dense_attention(graph, module.attention(z, graph))
    ones = torch.ones(4, N, dtype=torch.float64)
    torch.testing.assert_close(alpha.sum(-1), ones)
    support = (dense_adjacency() + torch.eye(N, dtype=torch.float64)) > 0
    assert bool((alpha[:, ~support] == 0).all())
    assert bool((alpha[:, support] > 0).all())  # self-loops included
    reference = _gat_reference(module, z)
    torch.testing.assert_close(alpha, reference)
    # the message: per head, α Z of that head's channels
    module.ffn = nn.Identity()
    h = torch.randn(N, 16, dtype=torch.float64)
    zh = module.lin(h).view(N, 4, 4)
    expected = torch.cat([_gat_reference(module, module.lin(h))[k] @ zh[:, k] for k in range(4)], 1)
    torch.testing.assert_close(module(h, graph), expected)


def test_gat_sep_concatenates_the_node_and_its_message() -> None:
    torch.manual_seed(2)
    plain = ResidualGAT(5, 16, 3, heads=2, sep=False).double()
    sep = ResidualGAT(5, 16, 3, heads=2, sep=True).double()
    m_plain, m_sep = plain.blocks[0].module, sep.blocks[0].module
    assert m_plain.ffn.lin1.in_features == 16 and m_sep.ffn.lin1.in_features == 32
    shared = {k: v for k, v in m_plain.state_dict().items() if not k.startswith("ffn.")}
    m_sep.load_state_dict(shared, strict=False)  # the same lin and attention
    m_plain.ffn, m_sep.ffn = nn.Identity(), nn.Identity()
    graph = sep.graph(EDGES, N, None)
    h = torch.randn(N, 16, dtype=torch.float64)
    out = m_sep(h, graph)
    torch.testing.assert_close(out, torch.cat([m_sep.lin(h), m_plain(h, graph)], dim=-1))


def test_transformer_attention_is_a_scaled_dot_product_softmax() -> None:
    torch.manual_seed(3)
    model = ResidualGT(5, 16, 3, heads=2, dropout=0.0).double()
    module = model.blocks[0].module
    assert isinstance(module, AttentionModule)
    graph = model.graph(EDGES, N, None)
    h = torch.randn(N, 16, dtype=torch.float64)
    alpha = dense_attention(graph, module.attention(h, graph))
    q, k = module.query(h).view(N, 2, 8), module.key(h).view(N, 2, 8)
    scores = torch.einsum("ihc,jhc->hij", q, k) / 8**0.5
    support = (dense_adjacency() + torch.eye(N, dtype=torch.float64)) > 0
    reference = torch.softmax(scores.masked_fill(~support, float("-inf")), dim=-1)
    torch.testing.assert_close(alpha, reference)
    module.out = nn.Identity()
    v = module.value(h).view(N, 2, 8)
    expected = torch.cat([reference[j] @ v[:, j] for j in range(2)], dim=-1)
    torch.testing.assert_close(module(h, graph), expected)


def test_gt_sep_concatenates_the_node_and_its_message() -> None:
    model = ResidualGT(5, 16, 3, heads=2, sep=True, dropout=0.0).double()
    module = model.blocks[0].module
    assert module.out.in_features == 32
    module.out = nn.Identity()
    h = torch.randn(N, 16, dtype=torch.float64)
    out = module(h, model.graph(EDGES, N, None))
    assert out.shape == (N, 32)
    torch.testing.assert_close(out[:, :16], h)


def test_residual_block_is_pre_norm_and_the_identity_when_its_module_is_zero() -> None:
    torch.manual_seed(4)
    model = ResidualGCN(5, 8, 3, norm="layer").double().eval()
    block = model.blocks[0]
    assert isinstance(block, ResidualBlock) and isinstance(block.norm, nn.LayerNorm)
    graph = model.graph(EDGES, N, None)
    h = 3.0 + 2.0 * torch.randn(N, 8, dtype=torch.float64)  # far from normalised
    nn.init.normal_(block.norm.weight)
    expected = h + block.module(block.norm(h), graph)
    torch.testing.assert_close(block(h, graph), expected)
    assert not torch.allclose(block(h, graph), h + block.module(h, graph))
    with torch.no_grad():
        block.module.ffn.lin2.weight.zero_()
        block.module.ffn.lin2.bias.zero_()
    torch.testing.assert_close(block(h, graph), h)


def test_network_order_input_gelu_blocks_output_norm() -> None:
    """With every block's module zeroed the network is Norm(GELU(X W + b)) W_out + b_out."""
    torch.manual_seed(5)
    model = ResidualSAGE(5, 8, 3, num_layers=3, norm="layer").double().eval()
    with torch.no_grad():
        for block in model.blocks:
            block.module.ffn.lin2.weight.zero_()
            block.module.ffn.lin2.bias.zero_()
    x = torch.randn(N, 5, dtype=torch.float64)
    lin = model.input.lin
    h = torch.nn.functional.gelu(x @ lin.weight.t() + lin.bias)
    expected = model.output(model.output_norm(h))
    torch.testing.assert_close(model(x, EDGES), expected)


def test_resnet_ignores_the_graph_and_the_gcn_uses_it() -> None:
    torch.manual_seed(6)
    x = torch.randn(N, 5)
    other = torch.tensor([[0, 5], [5, 0]])
    mlp, gcn = ResidualMLP(5, 8, 3).eval(), ResidualGCN(5, 8, 3).eval()
    torch.testing.assert_close(mlp(x, EDGES), mlp(x, other))
    assert not torch.allclose(gcn(x, EDGES), gcn(x, other))


def test_ffn_multiplier_sets_the_feed_forward_width() -> None:
    model = ResidualGCN(5, 8, 3, ffn_multiplier=2.5)
    assert model.blocks[0].module.ffn.lin1.out_features == 20


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="multiple of heads"):
        ResidualGAT(5, 12, 3, heads=8)
    for heads in (0, -2, 2.0, True):
        with pytest.raises(ValueError, match="expected a positive integer"):
            ResidualGAT(5, 8, 3, heads=heads)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="norm must be one of"):
        ResidualGCN(5, 8, 3, norm="group")
    with pytest.raises(ValueError, match="ffn_multiplier"):
        ResidualGCN(5, 8, 3, ffn_multiplier=0.0)
    with pytest.raises(ValueError, match="edge_weight"):
        ResidualGAT(5, 8, 3)(torch.randn(N, 5), EDGES, torch.ones(EDGES.size(1)))
    assert isinstance(make_norm("batch", 4), nn.BatchNorm1d)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("cls", CLASSES)
def test_torch_compile_gives_the_eager_output(cls: type[ResidualGNN]) -> None:
    torch.manual_seed(7)
    model = cls(5, 16, 3, dropout=0.0).eval()
    x = torch.randn(N, 5)
    compiled = torch.compile(model, backend="aot_eager")
    torch.testing.assert_close(compiled(x, EDGES), model(x, EDGES))
