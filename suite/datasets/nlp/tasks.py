"""The registered NLP datasets (family ``nlp``): tasks on gold dependency trees.

- ``dep-count`` (graph level, exact ground truth): GraphMask's synthetic task on real
  syntax. Each sentence gets a query of two relation types ``(x, y)`` (among the
  ``num_query_relations`` most frequent training relations), one-hot
  ``[onehot(x) | onehot(y)]`` appended to every token; label ``1[count_x > count_y]``
  (ties are never drawn); ground truth: both directed edges of every x- and y-arc.
  Queries are drawn so that labels alternate within each split (exactly balanced).
- ``dep-role`` (node level, exact ground truth; ``question``: ``obj``, ``nsubj-pass``,
  ``comp``): does a verb (UPOS ``VERB``) take a direct object (``obj``), a passive
  subject (``nsubj:pass``), a clausal complement (``ccomp``/``xcomp``)? Ground truth:
  both directed edges of the deciding arcs (verb -> such dependents). **Hidden
  labels**: every UD core-argument relation (``nsubj``, ``obj``, ``iobj``, ``csubj``,
  ``ccomp``, ``xcomp``, all subtypes: ``nsubj:pass``, ``csubj:pass``, ``nsubj:outer``)
  is merged into one edge type ``core``, so the answer is not an edge type: the model
  must find *which* core dependent (its word, POS, morphology, side of the verb and
  its own dependents) settles it. The other labels (``aux:pass``, ``mark``, ``obl``...)
  stay visible. With ``balance=True`` each split keeps all its positive verbs and as
  many seeded negatives (the other verbs stay in the graph, unlabelled). Marked
  ``needs_edge_types``: the evidence is which *typed* arc (``core`` vs ``obl``,
  ``aux:pass``, ``mark``...) a dependent hangs from, so type-blind models are skipped.
- ``ewt-genre`` (graph level, real labels, no ground truth): the sentence's document
  genre (answers, email, newsgroup, reviews, weblog), the prefix of its EWT sentence id.
- ``conllu``: ``dep-count`` on a user's own CoNLL-U or CoNLL-2009 file
  (``path``), with a seeded 80/10/10 sentence split.

EWT builders use the treebank's own train/dev/test split; ``max_sentences`` (None:
the full treebank, 16,622 sentences) keeps a seeded uniform subset of each split in
proportion to its size. Word, tag and feature vocabularies come from the kept
training sentences (:mod:`suite.datasets.nlp.vocab`). Deterministic in ``seed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from suite.core.config import ConfigError
from suite.core.types import BenchmarkDataset, DatasetInfo, TaskLevel
from suite.datasets.base import dataset_info, register_dataset
from suite.datasets.nlp import ewt
from suite.datasets.nlp.graphs import describe, sentence_graph, union
from suite.datasets.nlp.parse import READERS, Sentence, relation_counts
from suite.datasets.nlp.vocab import Vocabulary

#: Suite split names for the treebank's train/dev/test.
SPLIT_NAMES: dict[str, str] = {"train": "train", "dev": "val", "test": "test"}

#: dep-role questions: name -> the relation labels that decide them.
QUESTIONS: dict[str, frozenset[str]] = {
    "obj": frozenset({"obj"}),
    "nsubj-pass": frozenset({"nsubj:pass"}),
    "comp": frozenset({"ccomp", "xcomp"}),
}
#: UD core-argument relations (base labels): merged into ``core`` for dep-role.
CORE_RELATIONS: frozenset[str] = frozenset({"nsubj", "obj", "iobj", "csubj", "ccomp", "xcomp"})
CORE = "core"
VERB = "VERB"

MARCHEGGIANI = ("Marcheggiani & Titov. Encoding Sentences with Graph Convolutional Networks for Semantic "
                "Role Labeling. EMNLP 2017 (arXiv 1703.04826)")
GRAPHMASK = ("Schlichtkrull, De Cao, Titov. Interpreting Graph Neural Networks for NLP With Differentiable "
             "Edge Masking. ICLR 2021 (arXiv 2010.00577)")
_EWT_PROVENANCE = ("gold trees of the UD English Web Treebank: official release files "
                   f"({ewt.URL.format(tag=ewt.RELEASE_TAG, split='{train,dev,test}')}), read from "
                   "$SUITE_DATA_MIRROR/ud-english-ewt/en_ewt-ud-*.conllu.xz when given, else downloaded "
                   "(30 s timeout) and verified (SHA-256 of dev/test; train: sentence count); parsed "
                   "with the `conllu` library")
_EWT_LICENCE = f"{ewt.LICENCE}; attribution: {ewt.ATTRIBUTION}"


# ------------------------------------------------------------------------------ helpers


def _opt_int(name: str, value: Any, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name}: expected an integer >= {minimum} or null (got {value!r})")
    return int(value)


def core_relation(label: str) -> str:
    """``core`` for UD core-argument relations (any subtype), else the label itself."""
    return CORE if label.split(":")[0] in CORE_RELATIONS else label


def ewt_splits(seed: int, max_sentences: int | None) -> dict[str, list[Sentence]]:
    """EWT sentences by suite split (train/val/test), a seeded proportional subset when capped."""
    max_sentences = _opt_int("max_sentences", max_sentences, 3)
    total = sum(ewt.SENTENCES.values())
    rng = np.random.default_rng(seed)
    out = {}
    for split in ewt.SPLITS:
        sentences = ewt.load_split(split)
        if max_sentences is not None and max_sentences < total:
            keep = max(1, round(max_sentences * ewt.SENTENCES[split] / total))
            ids = np.sort(rng.choice(len(sentences), size=min(keep, len(sentences)), replace=False))
            sentences = [sentences[i] for i in ids]
        out[SPLIT_NAMES[split]] = sentences
    return out


def file_splits(path: str, fmt: str, seed: int, max_sentences: int | None) -> dict[str, list[Sentence]]:
    """A user's treebank file split 80/10/10 by a seeded permutation of its sentences."""
    if fmt not in READERS:
        raise ConfigError(f"format: expected one of {', '.join(READERS)} (got {fmt!r})")
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"path: no such file {str(file)!r}")
    sentences = READERS[fmt](file.read_text(encoding="utf-8"), source=file.stem)
    order = np.random.default_rng(seed).permutation(len(sentences))
    cap = _opt_int("max_sentences", max_sentences, 3)
    if cap is not None:
        order = order[:cap]
    n = len(order)
    if n < 3:
        raise ConfigError(f"path: {file.name} has {n} sentences; a split needs at least 3")
    n_train, n_val = max(1, int(0.8 * n)), max(1, int(0.1 * n))
    parts = {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}
    return {k: [sentences[i] for i in sorted(v)] for k, v in parts.items()}


def _ordered(splits: dict[str, list[Sentence]]) -> tuple[list[Sentence], dict[str, Tensor]]:
    """All sentences (train, val, test order) and each split's sentence ids."""
    sentences: list[Sentence] = []
    ids = {}
    for name in ("train", "val", "test"):
        start = len(sentences)
        sentences += splits[name]
        ids[name] = torch.arange(start, len(sentences))
    return sentences, ids


def _arc_mask(data_arc: Tensor, arc_keep: Tensor) -> Tensor:
    """[E] bool: edges whose arc is in ``arc_keep`` [A] bool (self-loops never)."""
    out = torch.zeros(data_arc.numel(), dtype=torch.bool)
    real = data_arc >= 0
    out[real] = arc_keep[data_arc[real]]
    return out


def _nodes_of(edge_index: Tensor, mask: Tensor, num_nodes: int) -> Tensor:
    nodes = torch.zeros(num_nodes, dtype=torch.bool)
    nodes[edge_index[:, mask].flatten()] = True
    return nodes


# ------------------------------------------------------------------------------ dep-count


def query_relations(train: Sequence[Sentence], k: int) -> list[str]:
    """The ``k`` most frequent relation labels of ``train`` (ties by name)."""
    counts = relation_counts(train)
    return sorted(counts, key=lambda r: (-counts[r], r))[:k]


def draw_query(counts: dict[str, int], candidates: Sequence[str], label: int,
               rng: np.random.Generator) -> tuple[str, str] | None:
    """A uniformly drawn ordered pair ``(x, y)`` of ``candidates`` with ``1[c_x > c_y] == label``
    and ``c_x != c_y``; None when every candidate count is equal (only ties)."""
    pairs = [(x, y) for x in candidates for y in candidates
             if x != y and counts.get(x, 0) != counts.get(y, 0)
             and int(counts.get(x, 0) > counts.get(y, 0)) == label]
    if not pairs:
        return None
    return pairs[int(rng.integers(len(pairs)))]


def build_dep_count(info: DatasetInfo, splits: dict[str, list[Sentence]], seed: int,
                    num_query_relations: int, min_count: int, params: dict[str, Any]) -> BenchmarkDataset:
    if isinstance(num_query_relations, bool) or not isinstance(num_query_relations, int) \
            or num_query_relations < 2:
        raise ConfigError(f"num_query_relations: expected an integer >= 2 (got {num_query_relations!r})")
    candidates = query_relations(splits["train"], num_query_relations)
    if len(candidates) < 2:
        raise ConfigError("num_query_relations: the training sentences have fewer than 2 relation labels")
    rng = np.random.default_rng([seed, 0xC0])
    kept: dict[str, list[tuple[Sentence, tuple[str, str], int]]] = {}
    for name in ("train", "val", "test"):
        rows = []
        for sentence in splits[name]:
            label = len(rows) % 2  # alternate: exactly balanced labels
            counts: dict[str, int] = {}
            for _h, _d, rel in sentence.arcs():
                counts[rel] = counts.get(rel, 0) + 1
            query = draw_query(counts, candidates, label, rng)
            if query is not None:
                rows.append((sentence, query, label))
        kept[name] = rows
    sentences, split_ids = _ordered({k: [r[0] for r in v] for k, v in kept.items()})
    rows = kept["train"] + kept["val"] + kept["test"]
    vocab = Vocabulary.build((r[0] for r in kept["train"]), sentences, min_count)
    k = len(candidates)
    extra = []
    for _s, (x, y), _label in rows:
        q = torch.zeros(2 * k)
        q[candidates.index(x)] = 1.0
        q[k + candidates.index(y)] = 1.0
        extra.append(q)
    graphs = [sentence_graph(s, vocab) for s in sentences]
    data, node_ptr, edge_ptr = union(graphs, extra)
    arc_keep = torch.cat([torch.tensor([rel in q for rel in (vocab.relations[int(r)] for r in g.relation)],
                                       dtype=torch.bool)
                          for g, (_s, q, _l) in zip(graphs, rows)])
    gt_edges = _arc_mask(data.arc, arc_keep)
    describe(data, vocab, sentences)
    data.query = [list(q) for _s, q, _l in rows]
    data.query_relations = list(candidates)
    y = torch.tensor([label for _s, _q, label in rows], dtype=torch.long)
    return BenchmarkDataset(
        info=info, data=data, y=y, num_classes=2, splits=split_ids,
        explain_ids={k: v for k, v in split_ids.items() if k in ("val", "test")},
        gt_edge_mask=gt_edges, gt_node_mask=_nodes_of(data.edge_index, gt_edges, data.num_nodes),
        node_ptr=node_ptr, edge_ptr=edge_ptr, num_edge_types=vocab.num_edge_types, params=params)


# ------------------------------------------------------------------------------ dep-role


def build_dep_role(info: DatasetInfo, splits: dict[str, list[Sentence]], seed: int, question: str,
                   balance: bool, min_count: int, params: dict[str, Any]) -> BenchmarkDataset:
    if question not in QUESTIONS:
        raise ConfigError(f"question: expected one of {', '.join(QUESTIONS)} (got {question!r})")
    deciding = QUESTIONS[question]
    sentences, sentence_split = _ordered(splits)
    vocab = Vocabulary.build(splits["train"], sentences, min_count, relation_map=core_relation)
    graphs = [sentence_graph(s, vocab, core_relation) for s in sentences]
    data, node_ptr, _edge_ptr = union(graphs)
    n = data.num_nodes
    y = torch.zeros(n, dtype=torch.long)
    is_verb = torch.zeros(n, dtype=torch.bool)
    arc_keep = []
    for s, sentence in enumerate(sentences):
        base = int(node_ptr[s])
        for i, tok in enumerate(sentence.tokens):
            is_verb[base + i] = tok.upos == VERB
        for h, _d, rel in sentence.arcs():
            decides = rel in deciding and sentence.tokens[h].upos == VERB
            arc_keep.append(decides)
            if decides:
                y[base + h] = 1
    gt_edges = _arc_mask(data.arc, torch.tensor(arc_keep, dtype=torch.bool))
    sentence_of = data.batch
    rng = np.random.default_rng([seed, 0x50])
    node_splits = {}
    for name, ids in sentence_split.items():
        in_split = torch.zeros(len(sentences), dtype=torch.bool)
        in_split[ids] = True
        verbs = (is_verb & in_split[sentence_of]).nonzero().view(-1)
        if balance:
            pos, neg = verbs[y[verbs] == 1], verbs[y[verbs] == 0]
            take = min(pos.numel(), neg.numel())
            pos = pos[torch.from_numpy(np.sort(rng.choice(pos.numel(), take, replace=False)))]
            neg = neg[torch.from_numpy(np.sort(rng.choice(neg.numel(), take, replace=False)))]
            verbs = torch.cat([pos, neg]).sort().values
        node_splits[name] = verbs
    describe(data, vocab, sentences)
    data.sentence = sentence_of
    del data.batch  # a node task holds one graph (the sentences are its components)
    gt_nodes = _nodes_of(data.edge_index, gt_edges, n)
    return BenchmarkDataset(
        info=info, data=data, y=y, num_classes=2, splits=node_splits,
        explain_ids={k: v[y[v] == 1] for k, v in node_splits.items() if k in ("val", "test")},
        gt_edge_mask=gt_edges, gt_node_mask=gt_nodes, num_edge_types=vocab.num_edge_types, params=params)


# ------------------------------------------------------------------------------ ewt-genre


def build_genre(info: DatasetInfo, splits: dict[str, list[Sentence]], min_count: int,
                params: dict[str, Any]) -> BenchmarkDataset:
    sentences, split_ids = _ordered(splits)
    vocab = Vocabulary.build(splits["train"], sentences, min_count)
    data, node_ptr, edge_ptr = union([sentence_graph(s, vocab) for s in sentences])
    describe(data, vocab, sentences)
    data.class_names = list(ewt.GENRES)
    y = torch.tensor([ewt.GENRES.index(ewt.genre(s.sent_id)) for s in sentences], dtype=torch.long)
    return BenchmarkDataset(
        info=info, data=data, y=y, num_classes=len(ewt.GENRES), splits=split_ids,
        explain_ids={k: v for k, v in split_ids.items() if k in ("val", "test")},
        node_ptr=node_ptr, edge_ptr=edge_ptr, num_edge_types=vocab.num_edge_types, params=params)


# ------------------------------------------------------------------------------ registrations

_GRAPH_DESC = ("tokens as nodes (word id, UPOS id, side of head, morphological features; word "
               "embeddings learned by the model, rare words -> <unk>), every arc as two typed edges "
               "(relation label with subtypes, head->dependent and dependent->head) plus typed "
               "self-loops (Marcheggiani & Titov 2017)")


@register_dataset(DatasetInfo(
    name="dep-count", task=TaskLevel.GRAPH, family="nlp", has_ground_truth=True, requires=("conllu",),
    citation=f"{GRAPHMASK} (synthetic task, transposed); treebank: {ewt.CITATION}",
    provenance=_EWT_PROVENANCE, licence=_EWT_LICENCE, edge_types=True, needs_edge_types=True,
    description="is the count of x-relation arcs > the count of y-relation arcs? query (x, y) one-hot on "
                "every token, labels balanced, ties excluded; ground truth: the x- and y-arcs. " + _GRAPH_DESC))
def dep_count(seed: int = 0, max_sentences: int | None = 2000, num_query_relations: int = 10,
              min_count: int = 2) -> BenchmarkDataset:
    params = {"seed": seed, "max_sentences": max_sentences, "num_query_relations": num_query_relations,
              "min_count": min_count}
    return build_dep_count(dataset_info("dep-count"), ewt_splits(seed, max_sentences), seed,
                           num_query_relations, min_count, params)


@register_dataset(DatasetInfo(
    name="dep-role", task=TaskLevel.NODE, family="nlp", has_ground_truth=True, requires=("conllu",),
    citation=f"{MARCHEGGIANI} (SRL-like argument detection); treebank: {ewt.CITATION}",
    provenance=_EWT_PROVENANCE, licence=_EWT_LICENCE, edge_types=True, needs_edge_types=True,
    description="per verb: does it take an obj / nsubj:pass / ccomp|xcomp dependent (`question`)? core-"
                "argument labels merged into one `core` type so the answer is not an edge type; balanced "
                "targets; ground truth: the deciding arcs. " + _GRAPH_DESC + "; the default matrix uses a "
                "seeded 600-sentence subset (max_sentences), on which its model reaches the 0.90 "
                "balanced-accuracy floor"))
def dep_role(seed: int = 0, question: str = "obj", max_sentences: int | None = 2000, balance: bool = True,
             min_count: int = 2) -> BenchmarkDataset:
    params = {"seed": seed, "question": question, "max_sentences": max_sentences, "balance": balance,
              "min_count": min_count}
    if question not in QUESTIONS:  # fail before reading the treebank
        raise ConfigError(f"question: expected one of {', '.join(QUESTIONS)} (got {question!r})")
    return build_dep_role(dataset_info("dep-role"), ewt_splits(seed, max_sentences), seed, question,
                          balance, min_count, params)


@register_dataset(DatasetInfo(
    name="ewt-genre", task=TaskLevel.GRAPH, family="nlp", has_ground_truth=False, requires=("conllu",),
    citation=ewt.CITATION, provenance=_EWT_PROVENANCE + "; genre = the prefix of the sentence id",
    licence=_EWT_LICENCE, edge_types=True,
    description="document genre of a sentence (answers, email, newsgroup, reviews, weblog), no "
                "explanation ground truth. " + _GRAPH_DESC))
def ewt_genre(seed: int = 0, max_sentences: int | None = 2000, min_count: int = 2) -> BenchmarkDataset:
    params = {"seed": seed, "max_sentences": max_sentences, "min_count": min_count}
    return build_genre(dataset_info("ewt-genre"), ewt_splits(seed, max_sentences), min_count, params)


@register_dataset(DatasetInfo(
    name="conllu", task=TaskLevel.GRAPH, family="nlp", has_ground_truth=True, requires=("conllu",),
    citation="user-supplied treebank", provenance="a CoNLL-U or CoNLL-2009 file given by `path`",
    licence="that of the user's file", edge_types=True, needs_edge_types=True,
    description="dep-count on a user's own CoNLL-U / CoNLL-2009 file (seeded 80/10/10 split)"))
def conllu_file(seed: int = 0, path: str = "", format: str = "conllu",  # noqa: A002 (a config name)
                max_sentences: int | None = None, num_query_relations: int = 10,
                min_count: int = 1) -> BenchmarkDataset:
    if not path:
        raise ConfigError("path: the conllu dataset needs the path of a CoNLL-U or CoNLL-2009 file")
    params = {"seed": seed, "path": path, "format": format, "max_sentences": max_sentences,
              "num_query_relations": num_query_relations, "min_count": min_count}
    return build_dep_count(dataset_info("conllu"), file_splits(path, format, seed, max_sentences), seed,
                           num_query_relations, min_count, params)


def _fixed_question(question: str):
    def build(seed: int = 0, max_sentences: int | None = 2000, balance: bool = True,
              min_count: int = 2) -> BenchmarkDataset:
        name = f"dep-role-{question}"
        params = {"seed": seed, "question": question, "max_sentences": max_sentences, "balance": balance,
                  "min_count": min_count}
        return build_dep_role(dataset_info(name), ewt_splits(seed, max_sentences), seed, question,
                              balance, min_count, params)

    build.__doc__ = f"``dep-role`` with ``question={question!r}`` (its own name, so a matrix can list it)."
    return build


for _question in ("nsubj-pass", "comp"):
    register_dataset(DatasetInfo(
        name=f"dep-role-{_question}", task=TaskLevel.NODE, family="nlp", has_ground_truth=True, requires=("conllu",),
        citation=f"{MARCHEGGIANI} (SRL-like argument detection); treebank: {ewt.CITATION}",
        provenance=_EWT_PROVENANCE, licence=_EWT_LICENCE, edge_types=True, needs_edge_types=True,
        description=f"dep-role with question {_question} (see dep-role)"))(_fixed_question(_question))
