"""Neural-network modules: the GRAFF layer and model, W/Ω parametrisations, baselines.

``graff.nn.__all__`` is what a model is composed from: the GRAFF layer and model, the W/Ω
parametrisations and their registries, the baselines, the shared linear blocks and the graph
operators a model is built on. The kernels under them (CSR products with exact transposes,
attention on a fixed sparsity pattern, the graph cache, dropout and permutations) are a
documented low-level layer, imported from their modules: :mod:`graff.nn.sparse`,
:mod:`graff.nn.adjacency`, :mod:`graff.nn.functional`, :mod:`graff.nn.cache`.

Layout:

* :mod:`graff.nn.graff_conv` — :class:`GRAFFConv`, one gradient-flow (Euler) step;
  :mod:`graff.nn.graff` — the :class:`GRAFF` model (and :class:`GRAFFNoResidual`);
* :mod:`graff.nn.parametrisations` — the symmetric W and Ω, registered in :data:`W_TYPES`
  and :data:`OMEGA_TYPES`;
* :mod:`graff.nn.models` — the baselines, one file per family;
* :mod:`graff.nn.linear` — shared linear blocks (sparse-feature input layer, MLP);
* :mod:`graff.nn.adjacency` — graph operators from ``edge_index``/``adj_t`` (Ā, D⁻¹A, ...);
* :mod:`graff.nn.sparse` — low level: every CSR construction and product (with exact
  transposes), attention on a fixed CSR pattern;
* :mod:`graff.nn.cache` — the cache of values derived from graph/feature tensors;
* :mod:`graff.nn.checks` — argument checks; :mod:`graff.nn.functional` — dropout, permutations.
"""

from graff.nn.adjacency import (
    as_edge_index,
    gcn_adjacency,
    mean_adjacency,
    normalized_adjacency,
    two_hop_adjacency,
)
from graff.nn.graff import GRAFF, GRAFFNoResidual, StepCallback, euler_step_count, euler_steps
from graff.nn.graff_conv import GRAFFConv
from graff.nn.linear import MLP, InputDropoutLinear
from graff.nn.models import (
    ADAPTIVE_METHODS,
    CGNN,
    FIXED_GRID_METHODS,
    GAT,
    GCN,
    GCNII,
    GPRGNN,
    H2GCN,
    NORMS,
    ODE_METHODS,
    PDEGCND,
    APPNPNet,
    GRANDLinear,
    GraphSAGE,
    MLPClassifier,
    ResidualGAT,
    ResidualGATSep,
    ResidualGCN,
    ResidualGNN,
    ResidualGT,
    ResidualGTSep,
    ResidualMLP,
    ResidualSAGE,
)
from graff.nn.parametrisations import OMEGA_TYPES, W_TYPES, ChannelMixing, make_omega, make_w

__all__ = [
    "ADAPTIVE_METHODS",
    "CGNN",
    "FIXED_GRID_METHODS",
    "GAT",
    "GCN",
    "GCNII",
    "GPRGNN",
    "GRAFF",
    "H2GCN",
    "MLP",
    "NORMS",
    "ODE_METHODS",
    "OMEGA_TYPES",
    "PDEGCND",
    "W_TYPES",
    "APPNPNet",
    "ChannelMixing",
    "GRAFFConv",
    "GRAFFNoResidual",
    "GRANDLinear",
    "GraphSAGE",
    "InputDropoutLinear",
    "MLPClassifier",
    "ResidualGAT",
    "ResidualGATSep",
    "ResidualGCN",
    "ResidualGNN",
    "ResidualGT",
    "ResidualGTSep",
    "ResidualMLP",
    "ResidualSAGE",
    "StepCallback",
    "as_edge_index",
    "euler_step_count",
    "euler_steps",
    "gcn_adjacency",
    "make_omega",
    "make_w",
    "mean_adjacency",
    "normalized_adjacency",
    "two_hop_adjacency",
]
