"""graff.energy.layer_energies: any model's energy after each of its layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from graff.energy import layer_energies, model_layers, normalized_dirichlet_energy
from graff.nn.models import GCN
from graff.nn.models.residual import ResidualGCN

# a 6-cycle
EDGES = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0], [1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 0, 5]])


def _energy(f: torch.Tensor, self_loops: bool = True) -> float:
    return float(normalized_dirichlet_energy(f.double(), EDGES, 6, self_loops=self_loops))


def test_each_layer_is_measured_on_what_it_gives() -> None:
    """Step 0 is the first layer's input, step l layer l's output, each the energy of exactly
    those features (recomputed here by running the layers by hand); the model's training flag
    and its hooks are as they were."""
    torch.manual_seed(0)
    model = ResidualGCN(3, 8, 2, num_layers=3, dropout=0.5).train()
    x = torch.randn(6, 3)
    record = layer_energies(model, x, EDGES)
    assert model.training  # run in eval mode (no dropout), then put back
    model.blocks[1].eval()  # a part frozen in eval mode stays so
    layer_energies(model, x, EDGES)
    assert model.training and not model.blocks[1].training and model.blocks[0].training
    model.train()
    assert all(not b._forward_hooks and not b._forward_pre_hooks for b in model.blocks)
    assert record.steps == [0, 1, 2, 3] and record.times == [0.0, 1.0, 2.0, 3.0]
    model.eval()
    with torch.no_grad():
        graph = model.graph(EDGES, 6, None)
        h = model.embed(x)
        expected = [_energy(h)]
        for block in model.blocks:
            h = block(h, graph)
            expected.append(_energy(h))
    assert record.normalized == pytest.approx(expected, rel=1e-9)


def test_a_model_can_name_its_layers() -> None:
    """The plain MLP holds its first layer apart from its list (no top-level list at all):
    it names its layers (energy_layers), each measured on what it gives; a model naming them
    wrongly is told the form expected."""
    from graff.nn import MLPClassifier

    torch.manual_seed(0)
    model = MLPClassifier(3, 8, 2, num_layers=3).eval()
    assert [n for n, _ in model_layers(model)] == ["mlp.input", "mlp.lins.0", "mlp.lins.1"]
    x = torch.randn(6, 3)
    record = layer_energies(model, x, EDGES)
    with torch.no_grad():
        h1 = model.mlp.input(x)
        h2 = model.mlp.lins[0](torch.relu(h1))
        h3 = model.mlp.lins[1](torch.relu(h2))
    expected = [_energy(x), _energy(h1), _energy(h2), _energy(h3)]
    assert record.normalized == pytest.approx(expected, rel=1e-9)

    class Odd(nn.Module):
        def energy_layers(self) -> list[object]:
            return [("a", "not a module")]

    with pytest.raises(TypeError, match=r"Odd\.energy_layers\(\) must return a non-empty list"):
        model_layers(Odd())


def test_layers_and_the_laplacian_can_be_chosen() -> None:
    torch.manual_seed(1)
    model = GCN(3, 8, 2, num_layers=2)
    x = torch.randn(6, 3)
    assert [n for n, _ in model_layers(model)] == ["convs.0", "convs.1"]
    only_last = layer_energies(model, x, EDGES, layers=[model.convs[1]], self_loops=False)
    with torch.no_grad():
        logits = model.eval()(x, EDGES)
    assert len(only_last) == 2  # the last layer's input, then its output: the logits
    one = layer_energies(model, x, EDGES, layers=model.convs[1], self_loops=False)
    assert one.normalized == only_last.normalized  # one module is the one layer
    assert len(layer_energies(model, x, EDGES, layers=model.convs)) == 3  # a ModuleList
    assert only_last.normalized[1] == pytest.approx(_energy(logits, self_loops=False))
    # sparse CSR features (as graff feeds bag-of-words graphs) are measured as their values
    sparse = layer_energies(model, x.to_sparse_csr(), EDGES)
    assert sparse.normalized == pytest.approx(layer_energies(model, x, EDGES).normalized)


def test_bad_models_and_layers_are_named() -> None:
    class NoList(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
            return self.lin(x)

    x = torch.randn(6, 3)
    with pytest.raises(ValueError, match=r"NoList has no torch\.nn\.ModuleList .* pass layers="):
        layer_energies(NoList(), x, EDGES)
    from graff.nn import GRAFF

    with pytest.raises(ValueError, match=r"GRAFF has no .*EnergyTrajectory\(edge_index, num"):
        layer_energies(GRAFF(3, 4, 2), x, EDGES)  # its steps are recorded by a callback
    nan = x.clone()
    nan[2, 1] = float("nan")
    for bad in (nan, nan.to_sparse_csr()):  # every energy would be NaN, silently
        with pytest.raises(ValueError, match=r"x has NaN or infinite entries.*nan_to_num"):
            layer_energies(GCN(3, 4, 2), bad, EDGES)
    with pytest.raises(ValueError, match="none of the layers ran"):
        layer_energies(NoList(), x, EDGES, layers=[nn.Linear(3, 2)])
    with pytest.raises(ValueError, match=r"non-empty sequence of torch\.nn\.Module"):
        layer_energies(NoList(), x, EDGES, layers=[])
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got str"):
        model_layers("gcn")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got str"):
        layer_energies("gcn", x, EDGES, layers=[NoList().lin])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="self_loops must be True or False"):
        layer_energies(NoList(), x, EDGES, layers=[NoList().lin], self_loops="no")  # type: ignore[arg-type]

    class Scalar(nn.Module):
        def forward(self, h: torch.Tensor) -> torch.Tensor:
            return h.sum()

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([Scalar()])

        def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
            return self.layers[0](x)

    with pytest.raises(ValueError, match=r"output of layer 1 is not a node-feature matrix .*\(\)"):
        layer_energies(Net(), x, EDGES)


#: the builds with no top-level list of layers: GRAFF's steps go to a callback, the others
#: propagate in one module (APPNP, GPR-GNN, H2GCN) or an ODE solver (GRAND, CGNN, PDE-GCN);
#: the plain MLP names its layers itself (energy_layers)
WITHOUT_LAYER_LIST = {
    (name, "plain")
    for name in (
        "graff",
        "graff_nores",
        "appnp",
        "gprgnn",
        "h2gcn",
        "grand",
        "cgnn",
        "pde_gcn",
    )
}


def _registered_builds() -> list[tuple[str, str]]:
    from graff.train import MODELS

    return [(name, block) for name in MODELS for block in ("plain", *MODELS[name].blocks)]


@pytest.mark.parametrize(("name", "block"), _registered_builds())
def test_every_listed_layer_of_a_registered_model_is_measured_once(name: str, block: str) -> None:
    """Each layer model_layers lists runs as a module call, once: plain GAT and SAGE computed
    their layers without calling their conv modules, so no hook saw them."""
    from graff.train.config import ModelConfig
    from graff.train.models import model_kwargs

    cfg = ModelConfig()
    cfg.name, cfg.hidden = name, 8
    if block != "plain":
        cfg.block = block
    spec, kwargs = model_kwargs(cfg)
    torch.manual_seed(0)
    model = spec.cls(3, 8, 2, **kwargs)
    if (name, block) in WITHOUT_LAYER_LIST:  # analyze uses the callback or says so
        with pytest.raises(ValueError, match=f"{type(model).__name__} has no torch.nn.ModuleList"):
            model_layers(model)
        return
    layers = model_layers(model)
    record = layer_energies(model, torch.randn(6, 3), EDGES)
    assert len(record) == len(layers) + 1
