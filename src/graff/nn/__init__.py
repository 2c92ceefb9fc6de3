"""Neural-network modules: the GRAFF layer and model, W/Ω parametrisations, baselines.

Layout (each name below is importable from ``graff.nn`` directly):

* :mod:`graff.nn.graff_conv` — :class:`GRAFFConv`, one gradient-flow (Euler) step;
  :mod:`graff.nn.graff` — the :class:`GRAFF` model (and :class:`GRAFFNoResidual`);
* :mod:`graff.nn.parametrisations` — the symmetric W and Ω, registered in :data:`W_TYPES`
  and :data:`OMEGA_TYPES`;
* :mod:`graff.nn.models` — the baselines, one file per family;
* :mod:`graff.nn.linear` — shared linear blocks (sparse-feature input layer, MLP);
* :mod:`graff.nn.adjacency` — graph operators from ``edge_index``/``adj_t`` (Ā, D⁻¹A, ...);
* :mod:`graff.nn.sparse` — every CSR construction and product (with exact transposes);
* :mod:`graff.nn.cache` — the cache of values derived from graph/feature tensors;
* :mod:`graff.nn.checks` — argument checks; :mod:`graff.nn.functional` — dropout, permutations.
"""

from graff.nn.adjacency import (
    as_edge_index,
    edge_structure,
    gcn_adjacency,
    graph_cached,
    mean_adjacency,
    normalized_adjacency,
    rcm_order,
    two_hop_adjacency,
)
from graff.nn.functional import dropout, dropout_mask, permute_rows
from graff.nn.graff import GRAFF, GRAFFNoResidual, StepCallback, euler_steps
from graff.nn.graff_conv import REORDER_MIN_NODES, EdgeList, GRAFFConv
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
    ResidualGCN,
    ResidualGNN,
    ResidualGT,
    ResidualMLP,
    ResidualSAGE,
    gat_conv_csr,
)
from graff.nn.parametrisations import OMEGA_TYPES, W_TYPES, ChannelMixing, make_omega, make_w
from graff.nn.sparse import (
    CSRTransposePlan,
    EdgeStructure,
    csr_transpose_plan,
    edge_dot,
    edge_softmax,
    edge_values_mm,
    is_symmetric,
    register_transpose,
    sparse_dropout_linear,
    spmm,
    spmm_add,
    sym_spmm,
    sym_spmm_add,
    to_csr,
    transpose_of,
)

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
    "REORDER_MIN_NODES",
    "W_TYPES",
    "APPNPNet",
    "CSRTransposePlan",
    "ChannelMixing",
    "EdgeList",
    "EdgeStructure",
    "GRAFFConv",
    "GRAFFNoResidual",
    "GRANDLinear",
    "GraphSAGE",
    "InputDropoutLinear",
    "MLPClassifier",
    "ResidualGAT",
    "ResidualGCN",
    "ResidualGNN",
    "ResidualGT",
    "ResidualMLP",
    "ResidualSAGE",
    "StepCallback",
    "as_edge_index",
    "csr_transpose_plan",
    "dropout",
    "dropout_mask",
    "edge_dot",
    "edge_softmax",
    "edge_structure",
    "edge_values_mm",
    "euler_steps",
    "gat_conv_csr",
    "gcn_adjacency",
    "graph_cached",
    "is_symmetric",
    "make_omega",
    "make_w",
    "mean_adjacency",
    "normalized_adjacency",
    "permute_rows",
    "rcm_order",
    "register_transpose",
    "sparse_dropout_linear",
    "spmm",
    "spmm_add",
    "sym_spmm",
    "sym_spmm_add",
    "to_csr",
    "transpose_of",
    "two_hop_adjacency",
]
