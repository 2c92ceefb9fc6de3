"""graff: graph neural networks as gradient flows.

Di Giovanni, Rowbottom, Chamberlain, Markovich, Bronstein (2022),
"Graph Neural Networks as Gradient Flows", https://arxiv.org/abs/2206.10991.
"""

__version__ = "0.2.0"
