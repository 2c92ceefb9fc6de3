"""The README's PyG examples, run: GRAFFConv inside a user's own model, for graph
classification on DataLoader batches of many small graphs."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from torch_geometric.nn import global_mean_pool

from graff.nn import GRAFFConv


class GraphClassifier(nn.Module):
    """Encoder, three GRAFF steps sharing W and Ω, mean pooling per graph, linear head."""

    def __init__(self, in_channels: int, hidden: int, classes: int, steps: int = 3) -> None:
        super().__init__()
        self.encoder = nn.Linear(in_channels, hidden)
        self.conv = GRAFFConv(hidden, w_type="sum", omega_type="diag", step_size=0.5)
        self.steps = steps
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor) -> Tensor:
        h = h0 = self.encoder(x)
        for _ in range(self.steps):
            h = self.conv(h, h0, edge_index)
        return self.head(global_mean_pool(h, batch))


def _dataset(count: int, seed: int) -> list[Data]:
    """Random graphs of 6–12 nodes; the label says whether the features' mean is positive."""
    gen = torch.Generator().manual_seed(seed)
    graphs = []
    for _ in range(count):
        n = int(torch.randint(6, 13, (1,), generator=gen))
        ei = torch.randint(0, n, (2, 3 * n), generator=gen)
        ei = torch.cat([ei, ei.flip(0)], dim=1)
        x = torch.randn(n, 4, generator=gen) + (torch.rand(1, generator=gen) - 0.5)
        graphs.append(Data(x=x, edge_index=ei, y=(x.mean() > 0).long().view(1)))
    return graphs


def test_graff_conv_in_a_graph_classifier_learns_and_respects_batching() -> None:
    torch.manual_seed(0)
    data = _dataset(64, seed=0)
    model = GraphClassifier(4, 16, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(data, batch_size=16, shuffle=True)  # type: ignore[arg-type]

    def epoch_loss() -> float:
        total = 0.0
        for batch in loader:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(
                model(batch.x, batch.edge_index, batch.batch), batch.y
            )
            loss.backward()
            opt.step()
            total += float(loss.detach())
        return total / len(loader)

    first = epoch_loss()
    for _ in range(25):
        last = epoch_loss()
    assert last < 0.6 * first
    # A batch's logits are each graph's own: batching changes nothing.
    model.eval()
    batch = next(iter(DataLoader(data[:5], batch_size=5)))  # type: ignore[arg-type]
    with torch.no_grad():
        together = model(batch.x, batch.edge_index, batch.batch)
        alone = [
            model(g.x, g.edge_index, torch.zeros(g.num_nodes, dtype=torch.long)) for g in data[:5]
        ]
    torch.testing.assert_close(together, torch.cat(alone), rtol=1e-5, atol=1e-6)
