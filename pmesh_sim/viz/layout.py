"""Positions for drawing a graph in layers, left to right: pure, deterministic, no randomness.

A node's ``layer`` attribute (an int) picks its column; the columns that hold nodes are spaced
one unit apart, so an absent layer (no streams in a core-only run) leaves no gap. Within a
column, nodes are ordered by the mean row of their neighbours in the column to the left (the
barycentre heuristic, fewer crossing edges), ties by the order they were added, and spread
evenly around ``y = 0``, top to bottom.

>>> import networkx as nx
>>> g = nx.DiGraph()
>>> g.add_node("pub", layer=0); g.add_node("srv", layer=2); g.add_node("sub", layer=6)
>>> g.add_edge("pub", "srv"); g.add_edge("srv", "sub")
>>> layered_positions(g)
{'pub': (0.0, 0.0), 'srv': (1.0, 0.0), 'sub': (2.0, 0.0)}
>>> g.add_node("sub2", layer=6); g.add_edge("srv", "sub2")
>>> layered_positions(g)["sub"], layered_positions(g)["sub2"]
((2.0, 0.5), (2.0, -0.5))
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Hashable

__all__ = ["layered_positions"]


def layered_positions(graph: Any, *, layer: str = "layer",
                      spacing: float = 1.0) -> dict[Hashable, tuple[float, float]]:
    """``{node: (x, y)}`` for ``graph`` (a networkx graph whose nodes carry ``layer``).

    ``x`` is the rank of the node's layer among the layers present; within a column rows are at
    least ``spacing`` apart. Nodes without ``layer`` go in layer 0. The same graph always gets
    the same positions.
    """
    columns = _ordered_columns(graph, layer)
    y = {n: (len(c) - 1) / 2 - i for c in columns for i, n in enumerate(c)}
    for _ in range(4):  # sweep right, then left: each node toward its neighbours' mean height
        for column in columns[1:] + columns[::-1]:
            _straighten(graph, column, y)
    return {n: (float(rank), y[n] * spacing) for rank, c in enumerate(columns) for n in c}


def _ordered_columns(graph: Any, layer: str) -> list[list[Hashable]]:
    """The nodes by column, each column ordered by the barycentre of its left neighbours."""
    by_layer: dict[int, list[Hashable]] = defaultdict(list)
    for node, data in graph.nodes(data=True):
        by_layer[data.get(layer, 0)].append(node)
    columns, row = [], {}
    for rank, key in enumerate(sorted(by_layer)):
        nodes = by_layer[key]
        if rank:
            nodes = sorted(nodes, key=lambda n, i=nodes.index: (_barycentre(graph, n, row), i(n)))
        for i, node in enumerate(nodes):
            row[node] = i - (len(nodes) - 1) / 2
        columns.append(nodes)
    return columns


def _barycentre(graph: Any, node: Hashable, row: dict[Hashable, float]) -> float:
    """The mean row of ``node``'s already placed predecessors (``inf`` without any)."""
    pred = graph.predecessors(node) if graph.is_directed() else graph.neighbors(node)
    rows = [row[p] for p in pred if p in row]
    return sum(rows) / len(rows) if rows else float("inf")


def _straighten(graph: Any, column: list[Hashable], y: dict[Hashable, float]) -> None:
    """Move ``column``'s nodes toward their neighbours' mean height, keeping their order and a
    gap of at least 1; the column as a whole stays centred on what its nodes want."""
    want = []
    for node in column:
        near = list(graph.predecessors(node)) + list(graph.successors(node)) \
            if graph.is_directed() else list(graph.neighbors(node))
        near = [y[m] for m in near if m != node]
        want.append(sum(near) / len(near) if near else y[node])
    placed: list[float] = []
    for w in want:  # top to bottom
        placed.append(min(w, placed[-1] - 1) if placed else w)
    shift = (sum(want) - sum(placed)) / len(placed)
    for node, p in zip(column, placed):
        y[node] = p + shift
