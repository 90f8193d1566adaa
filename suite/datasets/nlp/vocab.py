"""Vocabularies of a treebank: words, POS tags, morphological features, relation labels.

Words, tags and features come from the *training* sentences only (what a model may
learn from); index 0 of the word and tag vocabularies is the unknown entry, which
every rare (fewer than ``min_count`` training occurrences) or unseen word maps to.
Relation labels are the treebank's annotation scheme, not learned content: they are
collected from every split, after an optional relabelling (``relation_map``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable

from suite.datasets.nlp.parse import Sentence

UNK = "<unk>"

#: How an edge type relates to its arc: along it (head -> dependent), against it, or a self-loop.
ALONG, AGAINST, SELF = 0, 1, 2
DIRECTIONS: tuple[str, ...] = ("head->dependent", "dependent->head", "self-loop")


@dataclass(frozen=True)
class Vocabulary:
    """Index tables of one dataset build.

    Attributes:
        words: ``words[0]`` is ``<unk>``; lower-cased forms seen ``>= min_count`` times in training.
        upos: ``upos[0]`` is ``<unk>``; the POS tags of the training sentences, sorted.
        feats: ``"Name=Value"`` features of the training sentences, sorted (multi-hot columns).
        relations: relation labels (subtypes kept), sorted; relation ``r`` gives edge
            types ``2r`` (head -> dependent) and ``2r + 1`` (dependent -> head); type
            ``2R`` is the self-loop.
    """

    words: tuple[str, ...]
    upos: tuple[str, ...]
    feats: tuple[str, ...]
    relations: tuple[str, ...]

    @classmethod
    def build(cls, train: Iterable[Sentence], every: Iterable[Sentence], min_count: int = 2,
              relation_map: Callable[[str], str] | None = None) -> "Vocabulary":
        train = list(train)
        forms = Counter(t.form.lower() for s in train for t in s.tokens)
        words = (UNK,) + tuple(sorted(w for w, c in forms.items() if c >= min_count))
        upos = (UNK,) + tuple(sorted({t.upos for s in train for t in s.tokens}))
        feats = tuple(sorted({f for s in train for t in s.tokens for f in t.feats}))
        relmap = relation_map or (lambda r: r)
        relations = tuple(sorted({relmap(t.deprel) for s in every for t in s.tokens if t.head > 0}))
        return cls(words, upos, feats, relations)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_word_index", {w: i for i, w in enumerate(self.words)})
        object.__setattr__(self, "_upos_index", {p: i for i, p in enumerate(self.upos)})
        object.__setattr__(self, "_feat_index", {f: i for i, f in enumerate(self.feats)})
        object.__setattr__(self, "_rel_index", {r: i for i, r in enumerate(self.relations)})

    def word_id(self, form: str) -> int:
        return self._word_index.get(form.lower(), 0)  # type: ignore[attr-defined]

    def upos_id(self, tag: str) -> int:
        return self._upos_index.get(tag, 0)  # type: ignore[attr-defined]

    def feat_ids(self, feats: Iterable[str]) -> list[int]:
        index = self._feat_index  # type: ignore[attr-defined]
        return [index[f] for f in feats if f in index]

    def relation_id(self, label: str) -> int:
        try:
            return self._rel_index[label]  # type: ignore[attr-defined]
        except KeyError:
            raise ValueError(f"relation {label!r} is not in the vocabulary "
                             f"({len(self.relations)} labels)") from None

    @property
    def num_edge_types(self) -> int:
        return 2 * len(self.relations) + 1

    def edge_type_names(self) -> list[str]:
        """``rel`` (head -> dependent), ``rel^-1`` (dependent -> head), then ``self``."""
        names = []
        for rel in self.relations:
            names += [rel, f"{rel}^-1"]
        return names + ["self"]

    def edge_type_directions(self) -> list[int]:
        """[T] ``ALONG``/``AGAINST``/``SELF`` of every edge type."""
        return [ALONG, AGAINST] * len(self.relations) + [SELF]
