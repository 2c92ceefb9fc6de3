"""The baselines of the GRAFF paper's Table 1, one file per family, all with GRAFF's
``forward(x, edge_index, edge_weight=None)`` (``edge_index`` may also be a sparse ``adj_t``).

PyTorch Geometric's layers are used where they exist (``GCNConv``, ``GATConv``, ``SAGEConv``,
``GCN2Conv``, ``APPNP``); GPRGNN, H2GCN and the continuous models, which PyG lacks, are
written here, compactly.

Speed (full-batch, transductive, CPU, no torch_sparse): every model derives its graph
operators once per graph and caches them (:func:`graff.nn.adjacency.graph_cached`), e.g.
Ā = D̃^{-1/2}(A+I)D̃^{-1/2} as CSR, which the PyG layers receive with ``normalize=False`` and
multiply through :func:`graff.nn.sparse.spmm` (a CSR product whose backward reuses the
cached transpose — Ā itself on an undirected graph). The first linear map of each model
accepts sparse CSR node features (:class:`graff.nn.linear.InputDropoutLinear`).
"""

from graff.nn.models.continuous import (
    ADAPTIVE_METHODS,
    CGNN,
    FIXED_GRID_METHODS,
    ODE_METHODS,
    PDEGCND,
    GRANDLinear,
)
from graff.nn.models.gat import GAT
from graff.nn.models.gcn import GCN, GCNII
from graff.nn.models.h2gcn import H2GCN
from graff.nn.models.mlp import MLPClassifier
from graff.nn.models.ppr import GPR_INITS, GPRGNN, APPNPNet
from graff.nn.models.residual import (
    NORMS,
    ResidualGAT,
    ResidualGATSep,
    ResidualGCN,
    ResidualGNN,
    ResidualGT,
    ResidualGTSep,
    ResidualMLP,
    ResidualSAGE,
)
from graff.nn.models.sage import GraphSAGE

__all__ = [
    "ADAPTIVE_METHODS",
    "CGNN",
    "FIXED_GRID_METHODS",
    "GAT",
    "GCN",
    "GCNII",
    "GPRGNN",
    "GPR_INITS",
    "H2GCN",
    "NORMS",
    "ODE_METHODS",
    "PDEGCND",
    "APPNPNet",
    "GRANDLinear",
    "GraphSAGE",
    "MLPClassifier",
    "ResidualGAT",
    "ResidualGATSep",
    "ResidualGCN",
    "ResidualGNN",
    "ResidualGT",
    "ResidualGTSep",
    "ResidualMLP",
    "ResidualSAGE",
]
