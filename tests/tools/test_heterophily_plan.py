"""benchmarks/heterophily/all.sh runs the plan table.py projects: every search of the plan is
either finished (a row of results.json) or queued in one of the chains, and every search
queued names a registered model, a registered graph and a space search.sh finds."""

from __future__ import annotations

import json
import re

from graff.data import dataset_groups
from graff.train.models import MODELS
from graff.tune import available_spaces
from tests.tools import REPO_ROOT, load_script

HERE = REPO_ROOT / "benchmarks" / "heterophily"


def _queued(script: str) -> set[tuple[str, str]]:
    """(model, dataset) of every search.sh call in all.sh: direct calls and for-loops."""
    out: set[tuple[str, str]] = set()
    for line in script.splitlines():
        loop = re.search(r'for m in ([\w ]+); do "\$here/search\.sh" "\$m" ([\w -]+); done', line)
        if loop:
            out |= {(m, d) for m in loop.group(1).split() for d in loop.group(2).split()}
            continue
        call = re.search(r'"\$here/search\.sh" (\w+) ([\w -]+)$', line.strip())
        if call:
            out |= {(call.group(1), d) for d in call.group(2).split()}
    return out


def test_every_search_of_the_plan_is_finished_or_queued() -> None:
    table = load_script("benchmarks/heterophily/table.py", "heterophily_table_plan")
    queued = _queued((HERE / "all.sh").read_text())
    rows = json.loads((HERE / "results.json").read_text())["rows"]
    finished = {(r["dataset"], r["model"]) for r in rows if "mean" in r and not r.get("unfinished")}
    missing = [
        (m, d)
        for d in table.DATASETS
        for m in table.PLAN
        if (m, d) not in queued and (d, m) not in finished
    ]
    assert not missing, f"searches of the plan that no chain of all.sh runs: {missing}"


def test_every_queued_search_names_a_model_a_graph_and_a_space() -> None:
    queued = _queued((HERE / "all.sh").read_text())
    assert len(queued) >= 10  # the parser found the chains
    spaces = set(available_spaces(nested=True))
    for model, dataset in sorted(queued):
        assert model in MODELS, model
        assert dataset_groups(dataset) == [dataset], dataset
        found = (HERE / "spaces" / f"{model}.yaml").is_file() or {
            f"residual/{model}",
            model,
        } & spaces
        assert found, f"search.sh finds no search space for {model}"


def test_the_parser_reads_both_kinds_of_call() -> None:
    script = (
        '  "$here/search.sh" gat minesweeper tolokers\n'
        '  for m in mlp gcn; do "$here/search.sh" "$m" squirrel-filtered; done\n'
    )
    assert _queued(script) == {
        ("gat", "minesweeper"),
        ("gat", "tolokers"),
        ("mlp", "squirrel-filtered"),
        ("gcn", "squirrel-filtered"),
    }
