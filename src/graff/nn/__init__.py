"""Neural-network modules: the GRAFF layer and model, W/Ω parametrisations, baselines."""

from graff.nn.adjacency import normalized_adjacency, sym_spmm, sym_spmm_add
from graff.nn.baselines import (
    GAT,
    GCN,
    GCNII,
    GPRGNN,
    H2GCN,
    APPNPNet,
    GRAFFNoResidual,
    GraphSAGE,
    MLPClassifier,
)
from graff.nn.continuous import CGNN, PDEGCND, GRANDLinear
from graff.nn.graff import GRAFF, euler_steps
from graff.nn.graff_conv import GRAFFConv
from graff.nn.parametrisations import OMEGA_TYPES, W_TYPES, make_omega, make_w

__all__ = [
    "CGNN",
    "GAT",
    "GCN",
    "GCNII",
    "GPRGNN",
    "GRAFF",
    "H2GCN",
    "OMEGA_TYPES",
    "PDEGCND",
    "W_TYPES",
    "APPNPNet",
    "GRAFFConv",
    "GRAFFNoResidual",
    "GRANDLinear",
    "GraphSAGE",
    "MLPClassifier",
    "euler_steps",
    "make_omega",
    "make_w",
    "normalized_adjacency",
    "sym_spmm",
    "sym_spmm_add",
]
