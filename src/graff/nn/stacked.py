"""K models of one architecture evaluated side by side in one batched pass.

A multi-split run trains the same configuration on K splits of one graph: K models with
their own parameters that share the graph, the operator Ā and every shape. A
:class:`ModelStack` holds the K members' parameters stacked on a leading member dimension
(:func:`torch.func.stack_module_state`) and computes all K outputs at once, with the node
features of the members side by side, ``[N, K, d]``: one sparse product with Ā over
``[N, K·d]`` (the CSR arrays are read once for all members), batched matrix products for the
per-member linear maps, elementwise operations over all members together. Member k's
output ``[:, k]`` is the output of member k alone, up to floating-point summation order;
the gradient of a sum of per-member losses with respect to the stacked parameters holds
each member's own gradient in its slice, so an elementwise optimiser (Adam) on the stacked
parameters is K independent optimisers.

:meth:`ModelStack.member_state` gives a member's ``state_dict`` in the member model's own
format (checkpoints of a stacked run load into the plain model) and
:meth:`ModelStack.select` drops members (those that stopped early stop costing).

The model registry names each model's stack (:class:`graff.train.models.ModelSpec`); a model
without one trains one split at a time. On the CPU a stack is faster than its members one
after another only while their features stay in the cache (``graff.train.runner``
chooses K); on larger graphs the elementwise passes over [N, K, d] become memory-bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state
from torch_geometric.nn.dense.linear import Linear as PygLinear

from graff.nn.adjacency import gcn_adjacency
from graff.nn.checks import CheckedModule
from graff.nn.functional import dropout, inverse_permutation, member_dropout, permute_rows
from graff.nn.graff import checkpointed_steps
from graff.nn.models.residual import (
    AttentionModule,
    FeedForward,
    FeedForwardModule,
    GATModule,
    GCNModule,
    SAGEModule,
    additive_attention,
    attend,
    dot_attention,
)
from graff.nn.sparse import sparse_dropout_linear, spmm, spmm_add

__all__ = [
    "GCNStack",
    "GRAFFStack",
    "MLPStack",
    "ModelStack",
    "ResidualStack",
    "member_input_linear",
    "stacked_linear",
]


def stacked_linear(x: Tensor, weight_t: Tensor, bias: Tensor | None) -> Tensor:
    """Member k's ``x[:, k] @ weight_t[k] + bias[k]`` for x [N, K, i], weight_t [K, i, o]
    (the members' linear weights transposed, as a stack stores them), bias [K, o]; returns
    [N, K, o] (one batched matrix product)."""
    xt = x.transpose(0, 1)
    if bias is None:
        out = torch.bmm(xt, weight_t)
    else:
        out = torch.baddbmm(bias.unsqueeze(1), xt, weight_t)
    return out.transpose(0, 1)


def member_input_linear(
    x: Tensor,
    weight_t: Tensor,
    bias: Tensor | None,
    p: float,
    training: bool,
    generators: Sequence[torch.Generator] | None = None,
) -> Tensor:
    """Member k's ``dropout(X) W_k + b_k`` for a shared input X [N, p] (dense or CSR), with
    weight_t [K, p, d] (transposed linear weights) and bias [K, d]: [N, K, d]. Member k's
    dropout mask is drawn from ``generators[k]`` as the member alone draws it.

    For sparse X the members' products run one after another: measured here, one product of
    a member-block matrix [N·K, K·p] with the stacked weights is no faster (its weights
    leave the cache)."""
    k = weight_t.size(0)
    gens: Sequence[torch.Generator | None] = [None] * k if generators is None else generators
    if x.layout == torch.sparse_csr:
        outs = [
            sparse_dropout_linear(x, w.t(), None, p, training, generator=g)
            for w, g in zip(weight_t.unbind(0), gens, strict=True)
        ]
        out = torch.stack(outs, 1)
    elif not training or p == 0.0:
        out = torch.matmul(x, weight_t).transpose(0, 1)  # one product for every member
    else:
        outs = [
            dropout(x, p, training, g) @ w for w, g in zip(weight_t.unbind(0), gens, strict=True)
        ]
        out = torch.stack(outs, 1)
    return out if bias is None else out + bias


class ModelStack(CheckedModule, nn.Module):
    """K members of one architecture, parameters stacked on dim 0; ``forward`` gives
    ``[N, K, C]``.

    Args:
        members: the K models (same class, same configuration, same parameter shapes),
            consumed: their parameters are copied, and the first member, moved to the meta
            device, is kept as the configuration (:attr:`model`).
    """

    def linear_weights(self, template: nn.Module) -> list[str]:
        """The names of the members' linear weights [o, i], which the stack stores transposed,
        [K, i, o]: the layout its batched products read and write without a copy."""
        return [
            f"{name}.weight" if name else "weight"
            for name, mod in template.named_modules()
            if isinstance(mod, nn.Linear | PygLinear)
        ]

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("a ModelStack needs at least one member")
        kinds = {type(m) for m in members}
        if len(kinds) > 1:
            raise ValueError(f"the members of a stack must be of one class, got {kinds}")
        template = members[0]
        params, buffers = stack_module_state(list(members))
        self._keys = list(template.state_dict().keys())
        self._param_names = list(params)
        self._buffer_names = list(buffers)
        self._transposed = set(self.linear_weights(template))
        for name, value in params.items():
            value = value.detach()
            if name in self._transposed:
                value = value.transpose(1, 2)
            self.register_parameter(_safe(name), nn.Parameter(value.contiguous().clone()))
        for name, value in buffers.items():
            self.register_buffer(_safe(name), value.detach().clone())
        # The members' configuration, without parameters of its own: the first member, moved
        # to the meta device (the members are consumed). A list: not a registered submodule.
        self.template = [template.to("meta")]
        self.num_members = len(members)
        #: member k's dropout masks come from ``generators[k]`` (None: the default generator)
        self.generators: list[torch.Generator] | None = None

    @property
    def model(self) -> nn.Module:
        """A member model (on the meta device): its configuration."""
        return self.template[0]

    def stacked(self, name: str) -> Tensor:
        """The stacked parameter or buffer ``name`` (a member's ``state_dict`` key) [K, ...];
        a linear weight [K, i, o], transposed (:meth:`linear_weights`)."""
        out: Tensor = getattr(self, _safe(name))
        return out

    def tensors(self, prefix: str = "") -> dict[str, Tensor]:
        """The stacked tensors whose member names start with ``prefix``, keyed by the rest."""
        names = self._param_names + self._buffer_names
        return {n[len(prefix) :]: self.stacked(n) for n in names if n.startswith(prefix)}

    def member_state(self, k: int) -> dict[str, Tensor]:
        """Member ``k``'s ``state_dict`` (detached copies), as the member model's own."""
        return {
            key: (self.stacked(key)[k].t() if key in self._transposed else self.stacked(key)[k])
            .detach()
            .clone(memory_format=torch.contiguous_format)
            for key in self._keys
        }

    @torch.no_grad()
    def select(self, keep: Tensor, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Keep only the members ``keep`` (indices into the current members), in that order.

        The stacked parameters are replaced by new ones (autograd fixes a parameter's shape);
        ``optimizer``, if given, is moved onto them with its per-parameter state selected the
        same way, so training goes on as if the dropped members had never been there.
        """
        for name in self._buffer_names:
            t = self.stacked(name)
            t.data = t.data.index_select(0, keep)
        new_of: dict[int, nn.Parameter] = {}
        for name in self._param_names:
            old = self.stacked(name)
            new = nn.Parameter(old.detach().index_select(0, keep), old.requires_grad)
            setattr(self, _safe(name), new)
            new_of[id(old)] = new
        if optimizer is not None:
            for group in optimizer.param_groups:
                olds = group["params"]
                group["params"] = [new_of.get(id(q), q) for q in olds]
                for q in olds:
                    if id(q) in new_of and q in optimizer.state:
                        state = optimizer.state.pop(q)
                        optimizer.state[new_of[id(q)]] = {
                            key: v.index_select(0, keep)
                            if torch.is_tensor(v) and v.dim() > 0
                            else v
                            for key, v in state.items()
                        }
        self.num_members = int(keep.numel())
        if self.generators is not None:
            self.generators = [self.generators[int(j)] for j in keep]

    def drop(self, x: Tensor, p: float) -> Tensor:
        """Dropout on members' features [N, K, ...], member k's mask from its generator."""
        return member_dropout(x, p, self.training, self.generators)

    def input_linear(self, x: Tensor, name: str, p: float) -> Tensor:
        """The members' input linear map ``name`` with input dropout ``p``: [N, K, d]."""
        return member_input_linear(
            x,
            self.stacked(f"{name}.weight"),
            self.stacked(f"{name}.bias"),
            p,
            self.training,
            self.generators,
        )

    def forward(self, x: Tensor, edge_index: Any, edge_weight: Tensor | None = None) -> Tensor:
        raise NotImplementedError


def _safe(name: str) -> str:
    return name.replace(".", "__")


class GRAFFStack(ModelStack):
    """K :class:`~graff.nn.GRAFF` members (same configuration) side by side.

    The Euler step of every member in one pass (Di Giovanni et al. 2022, eq. 6):
    F_k ← F_k + τ(−F_k Ω_k + Ā F_k W_k + β_k F_k(0)), with Ā applied once to
    [F_1 W_1, …, F_K W_K] ([N, K·d]). Members whose parametrisation of W (or Ω) is diagonal
    mix channels elementwise, full ones by a batched product.
    """

    def _linear(self, name: str, x: Tensor) -> Tensor:
        return stacked_linear(x, self.stacked(f"{name}.weight"), self.stacked(f"{name}.bias"))

    def encode(self, x: Tensor) -> Tensor:
        """F(0) of every member, [N, K, d]."""
        m: Any = self.model
        h = self.input_linear(x, "encoder", m.input_dropout)
        if len(m.encoder_mlp) > 0:
            h = self.drop(h, m.dropout)
            for i in range(len(m.encoder_mlp)):
                h = self.drop(h + self._linear(f"encoder_mlp.{i}", torch.relu(h)), m.dropout)
        return h.contiguous()  # members side by side: [N, K·d] is a view

    def _operators(self, step: int) -> tuple[Tensor, Tensor]:
        conv: Any = self.model.conv
        j = min(step, len(conv.ws) - 1)
        w = functional_call(conv.ws[j], self.tensors(f"conv.ws.{j}."), ())
        om = functional_call(conv.omega, self.tensors("conv.omega."), ())
        return w, om

    def _step(
        self,
        f: Tensor,
        f0: Tensor,
        adj: Tensor,
        tau: float,
        ops: tuple[Tensor, Tensor],
        source: Tensor | None,
    ) -> Tensor:
        conv: Any = self.model.conv
        n, k, d = f.shape
        w_op, om_op = ops
        xw = f * w_op if w_op.dim() == 2 else stacked_linear(f, w_op, None).contiguous()
        beta = self.stacked("conv.beta").view(1, k, 1)
        if not conv.residual or conv.nonlinear or conv.increment_norm:
            base = beta * f0
            if not conv.omega.is_zero:
                f_om = f * om_op if om_op.dim() == 2 else stacked_linear(f, om_op, None)
                base = base - f_om
            inc = spmm_add(adj, xw.reshape(n, k * d), base.reshape(n, k * d))
            if conv.increment_norm:  # each member's channel over the nodes: a column of inc
                inc = F.batch_norm(inc, None, None, training=True)
            if conv.nonlinear:
                inc = torch.relu(inc)
            inc = inc.view(n, k, d)
            return tau * inc if not conv.residual else f + tau * inc
        src = (tau * beta) * f0 if source is None else source
        if conv.omega.is_zero:
            base = f + src
        elif om_op.dim() == 2:
            base = torch.addcmul(src, f, 1.0 - tau * om_op)
        else:
            base = f - tau * stacked_linear(f, om_op, None) + src
        base = base.reshape(n, k * d)
        return spmm_add(adj, xw.view(n, k * d), base, tau, inplace=True).view(n, k, d)

    def evolve(self, f0: Tensor, edge_index: Any, edge_weight: Tensor | None = None) -> Tensor:
        """F(T) of every member from F(0) [N, K, d]."""
        m: Any = self.model
        conv = m.conv
        # The template lives on the meta device; Ā is built on the graph's device, in the
        # dtype of the template's parameters, and cached per graph (GRAFFConv.propagation).
        adj, order = conv.propagation(edge_index, f0.size(0), edge_weight)
        inverse: Tensor | None = None
        if order is not None:
            inverse = inverse_permutation(order)
            f0 = permute_rows(f0, order, inverse)
        k = f0.size(1)
        shared = len(conv.ws) == 1
        ops = self._operators(0) if shared else None
        fused = conv.residual and not (conv.nonlinear or conv.increment_norm)
        beta = self.stacked("conv.beta").view(1, k, 1)
        sources = {tau: (tau * beta) * f0 for tau in set(m.steps)} if fused else {}

        def step(i: int, f: Tensor) -> Tensor:
            tau = m.steps[i]
            return self._step(
                f, f0, adj, tau, ops if ops is not None else self._operators(i), sources.get(tau)
            )

        f = f0
        if m.checkpoint and torch.is_grad_enabled():
            f = checkpointed_steps(step, len(m.steps), f)
        else:
            for i in range(len(m.steps)):
                f = step(i, f)
        return f if inverse is None or order is None else permute_rows(f, inverse, order)

    def forward(self, x: Tensor, edge_index: Any, edge_weight: Tensor | None = None) -> Tensor:
        """Logits [N, K, C] of every member for the shared input x [N, p] (dense or CSR)."""
        m: Any = self.model
        f = self.evolve(self.encode(x), edge_index, edge_weight)
        if m.output_relu:
            f = torch.relu(f)
        return self._linear("decoder", self.drop(f, m.dropout))


class MLPStack(ModelStack):
    """K :class:`~graff.nn.MLPClassifier` members side by side (the graph is ignored)."""

    def forward(
        self, x: Tensor, edge_index: Any = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        mlp: Any = self.model.mlp
        h = self.input_linear(x, "mlp.input.lin", mlp.input.dropout)
        for i in range(len(mlp.lins)):
            h = self.drop(torch.relu(h), mlp.dropout)
            h = stacked_linear(
                h, self.stacked(f"mlp.lins.{i}.weight"), self.stacked(f"mlp.lins.{i}.bias")
            )
        return h


class GCNStack(ModelStack):
    """K :class:`~graff.nn.GCN` members side by side: each layer's products with Ā run once
    over the members' features [N, K·d] (H ← Ā dropout(H) W + b, ReLU between layers)."""

    def forward(self, x: Tensor, edge_index: Any, edge_weight: Tensor | None = None) -> Tensor:
        gcn: Any = self.model
        n = x.size(0)
        dtype = self.stacked("convs.0.bias").dtype
        adj = gcn_adjacency(edge_index, n, edge_weight, self_loops=gcn.self_loops, dtype=dtype)
        h = x
        for i, conv in enumerate(gcn.convs):
            if i == 0:
                h = member_input_linear(
                    x,
                    self.stacked("convs.0.lin.lin.weight"),
                    None,
                    conv.lin.dropout,
                    self.training,
                    self.generators,
                )
            else:
                h = self.drop(torch.relu(h), gcn.dropout)
                h = stacked_linear(h, self.stacked(f"convs.{i}.lin.weight"), None)
            k, d = h.size(1), h.size(2)
            h = spmm(adj, h.reshape(n, k * d)).view(n, k, d) + self.stacked(f"convs.{i}.bias")
        return h


class ResidualStack(ModelStack):
    """K :class:`~graff.nn.models.residual.ResidualGNN` members (Platonov et al.'s recipe: any
    of its GCN, SAGE, GAT, GAT-sep, GT, GT-sep, ResNet) side by side.

    Features are [N, K, d]; every linear map is one batched product, Ā (GCN) or D⁻¹A (SAGE)
    is applied once to [N, K·d], LayerNorm and BatchNorm normalise each member with its own
    affine parameters (BatchNorm: each member's channel is one column of [N, K·d], with
    its own running statistics), and attention runs the K members' H heads as K·H heads of
    one softmax over the entries (member k's head h is head k·H + h).
    """

    def _linear(self, name: str, x: Tensor) -> Tensor:
        bias = f"{name}.bias"
        b = self.stacked(bias) if bias in self._param_names else None
        return stacked_linear(x, self.stacked(f"{name}.weight"), b)

    def _norm(self, name: str, norm: nn.Module, h: Tensor) -> Tensor:
        if isinstance(norm, nn.Identity):
            return h
        n, k, d = h.shape
        w, b = self.stacked(f"{name}.weight"), self.stacked(f"{name}.bias")
        if isinstance(norm, nn.LayerNorm):
            return torch.addcmul(b, F.layer_norm(h, (d,), eps=norm.eps), w)
        if not isinstance(norm, nn.BatchNorm1d) or norm.momentum is None:
            raise NotImplementedError(f"ResidualStack: no stacked version of {norm!r}")
        if self.training:
            self.stacked(f"{name}.num_batches_tracked").add_(1)
        out = F.batch_norm(
            h.reshape(n, k * d),
            self.stacked(f"{name}.running_mean").view(-1),  # views: updated in place
            self.stacked(f"{name}.running_var").view(-1),
            w.reshape(-1),
            b.reshape(-1),
            self.training,
            norm.momentum,
            norm.eps,
        )
        return out.view(n, k, d)

    def _ffn(self, name: str, ffn: FeedForward, z: Tensor) -> Tensor:
        h = F.gelu(self.drop(self._linear(f"{name}.lin1", z), ffn.dropout))
        return self.drop(self._linear(f"{name}.lin2", h), ffn.dropout)

    @staticmethod
    def _spmm(graph: Tensor, z: Tensor) -> Tensor:
        n, k, d = z.shape
        return spmm(graph, z.reshape(n, k * d)).view(n, k, d)

    def _attention(self, name: str, mod: GATModule, z: Tensor, graph: Any) -> Tensor:
        """The members' GAT module (:class:`~graff.nn.models.residual.GATModule`)."""
        zz = self._linear(f"{name}.lin", z)
        n, k, d = zz.shape
        heads = k * mod.heads
        src = self._linear(f"{name}.att_src", zz).reshape(n, heads).t()
        dst = self._linear(f"{name}.att_dst", zz).reshape(n, heads).t()
        alpha = additive_attention(src, dst, graph)
        msg = attend(alpha, zz.reshape(n, heads, mod.head_dim), graph).view(n, k, d)
        return self._ffn(f"{name}.ffn", mod.ffn, torch.cat([zz, msg], -1) if mod.sep else msg)

    def _dot_attention(self, name: str, mod: AttentionModule, z: Tensor, graph: Any) -> Tensor:
        """The members' transformer module (:class:`~graff.nn.models.residual.AttentionModule`)."""
        n, k, d = z.shape
        shape = (n, k * mod.heads, mod.head_dim)
        q = self._linear(f"{name}.query", z).reshape(shape)
        key = self._linear(f"{name}.key", z).reshape(shape)
        alpha = dot_attention(q, key, graph)
        msg = attend(alpha, self._linear(f"{name}.value", z).reshape(shape), graph).view(n, k, d)
        out = self._linear(f"{name}.out", torch.cat([z, msg], -1) if mod.sep else msg)
        return self.drop(out, mod.dropout)

    def _module(self, name: str, mod: nn.Module, z: Tensor, graph: Any) -> Tensor:
        if isinstance(mod, FeedForwardModule):
            return self._ffn(f"{name}.ffn", mod.ffn, z)
        if isinstance(mod, GCNModule):
            return self._ffn(f"{name}.ffn", mod.ffn, self._spmm(graph, z))
        if isinstance(mod, SAGEModule):
            return self._ffn(f"{name}.ffn", mod.ffn, torch.cat([z, self._spmm(graph, z)], -1))
        if isinstance(mod, GATModule):
            return self._attention(name, mod, z, graph)
        if isinstance(mod, AttentionModule):
            return self._dot_attention(name, mod, z, graph)
        raise NotImplementedError(f"ResidualStack: no stacked version of {type(mod).__name__}")

    def forward(
        self, x: Tensor, edge_index: Any = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        """Logits [N, K, C] of every member for the shared input x [N, p] (dense or CSR)."""
        m: Any = self.model
        # the operator the members read, built on the graph's device in the dtype of the
        # template's parameters and cached per graph (ResidualGNN.graph)
        graph = m.graph(edge_index, x.size(0), edge_weight)
        h = self.input_linear(x, "input.lin", m.input.dropout)
        h = F.gelu(self.drop(h, m.dropout))
        for i, block in enumerate(m.blocks):
            z = self._norm(f"blocks.{i}.norm", block.norm, h)
            h = h + self._module(f"blocks.{i}.module", block.module, z, graph)
        return self._linear("output", self._norm("output_norm", m.output_norm, h))
