"""Run the speed benchmark: the same as ``graff bench`` (all its options apply).

    python benchmarks/run.py --out benchmarks/results.json

Times GRAFF against a PyG GCN of equal depth and width on Cora, Pubmed and a built-in
200k-node graph (inference and a training step), and the propagation step against the
machine's memory bandwidth. See benchmarks/README.md for the numbers and how they were made.
"""

import sys

from graff.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
