"""Sentences as graphs: tokens are nodes, dependency arcs typed edges, plus self-loops.

As in syntactic GCNs (Marcheggiani & Titov, EMNLP 2017), every arc ``h -> d`` with
relation ``r`` gives two directed edges with distinct types, ``2r`` (head to
dependent) and ``2r + 1`` (dependent to head), and every token has a self-loop of
type ``2R`` (see :class:`~suite.datasets.nlp.vocab.Vocabulary`). Edge order per
sentence: the arcs in dependent order, each as (along, against), then the
self-loops in token order. ``arc`` [E] is the arc id of each edge (both directions
share it, global over the union; -1 on self-loops).

Token features, ``x`` [n, 5 + K] float (the suite keeps ``x`` float so explainers can
differentiate; integer columns are read by :class:`suite.models.tokens.TokenEncoder`):

- column 0: word id (``Vocabulary.words``, 0 = unknown/rare), column 1: POS id;
- columns 2-4: one-hot side of the token relative to its head (left of it, right of
  it, root) - the word order of the arc, not its label;
- columns 5..5+K: multi-hot morphological features (``Vocabulary.feats``).
Tasks append their own columns (e.g. the query of ``dep-count``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data

from suite.datasets.nlp.parse import Sentence
from suite.datasets.nlp.vocab import Vocabulary

#: ``data.feature_format`` of token graphs (models pick the token encoder from it).
TOKEN_FORMAT = "tokens"
#: Columns before the morphological features.
WORD_COL, UPOS_COL, SIDE_COLS = 0, 1, (2, 3, 4)
BASE_COLUMNS = 5


@dataclass
class SentenceGraph:
    """One sentence as tensors (local node ids).

    Attributes:
        x: [n, 5 + K] token features (module doc).
        edge_index: [2, 2A + n] edges, ``edge_type`` [2A + n] long, ``arc`` [2A + n]
            local arc id (-1 on self-loops); ``relation`` [A] relation id of each arc.
    """

    x: Tensor
    edge_index: Tensor
    edge_type: Tensor
    arc: Tensor
    relation: Tensor


def sentence_graph(sentence: Sentence, vocab: Vocabulary,
                   relation_map: Callable[[str], str] | None = None) -> SentenceGraph:
    """The typed graph of ``sentence`` under ``vocab`` (labels relabelled by ``relation_map``)."""
    relmap = relation_map or (lambda r: r)
    n = len(sentence)
    x = torch.zeros(n, BASE_COLUMNS + len(vocab.feats))
    for i, tok in enumerate(sentence.tokens):
        x[i, WORD_COL] = vocab.word_id(tok.form)
        x[i, UPOS_COL] = vocab.upos_id(tok.upos)
        side = 2 if tok.head == 0 else (0 if i < tok.head - 1 else 1)
        x[i, SIDE_COLS[side]] = 1.0
        for f in vocab.feat_ids(tok.feats):
            x[i, BASE_COLUMNS + f] = 1.0
    arcs = sentence.arcs()
    rels = torch.tensor([vocab.relation_id(relmap(r)) for _h, _d, r in arcs], dtype=torch.long)
    heads = torch.tensor([h for h, _d, _r in arcs], dtype=torch.long)
    deps = torch.tensor([d for _h, d, _r in arcs], dtype=torch.long)
    loops = torch.arange(n)
    src = torch.cat([torch.stack([heads, deps], 1).view(-1), loops])
    dst = torch.cat([torch.stack([deps, heads], 1).view(-1), loops])
    types = torch.cat([torch.stack([2 * rels, 2 * rels + 1], 1).view(-1),
                       torch.full((n,), 2 * len(vocab.relations), dtype=torch.long)])
    arc = torch.cat([torch.arange(len(arcs)).repeat_interleave(2), torch.full((n,), -1, dtype=torch.long)])
    return SentenceGraph(x, torch.stack([src, dst]), types, arc, rels)


def union(graphs: Sequence[SentenceGraph], extra: Sequence[Tensor] | None = None) -> tuple[Data, Tensor, Tensor]:
    """Disjoint union of ``graphs`` as one ``Data`` (edges of each graph contiguous).

    ``extra[g]`` [F_extra] (optional) is appended to the features of every token of
    graph ``g``. Returns ``(data, node_ptr [G+1], edge_ptr [G+1])``; ``data`` has
    ``x``, ``edge_index``, ``edge_type``, ``batch`` [N] and ``arc`` [E] (global arc
    ids, -1 on self-loops).
    """
    xs, eis, types, arcs, node_ptr, edge_ptr = [], [], [], [], [0], [0]
    arc_offset = 0
    for g, graph in enumerate(graphs):
        x = graph.x
        if extra is not None:
            x = torch.cat([x, extra[g].view(1, -1).expand(x.size(0), -1)], 1)
        xs.append(x)
        eis.append(graph.edge_index + node_ptr[-1])
        types.append(graph.edge_type)
        arcs.append(torch.where(graph.arc >= 0, graph.arc + arc_offset, graph.arc))
        arc_offset += int(graph.relation.numel())
        node_ptr.append(node_ptr[-1] + x.size(0))
        edge_ptr.append(edge_ptr[-1] + graph.edge_index.size(1))
    counts = torch.diff(torch.tensor(node_ptr))
    data = Data(x=torch.cat(xs), edge_index=torch.cat(eis, 1), edge_type=torch.cat(types),
                batch=torch.repeat_interleave(torch.arange(len(graphs)), counts))
    data.arc = torch.cat(arcs)
    return data, torch.tensor(node_ptr), torch.tensor(edge_ptr)


def describe(data: Data, vocab: Vocabulary, sentences: Sequence[Sentence]) -> None:
    """Attach what models and reports read: feature format, vocabulary sizes, type names, words."""
    data.feature_format = TOKEN_FORMAT
    data.token_vocab_sizes = [len(vocab.words), len(vocab.upos)]
    data.edge_type_names = vocab.edge_type_names()
    data.edge_type_direction = vocab.edge_type_directions()
    data.forms = [t.form for s in sentences for t in s.tokens]
    data.sent_ids = [s.sent_id for s in sentences]
