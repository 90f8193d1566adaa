"""Reading dependency treebanks: CoNLL-U (Universal Dependencies) and CoNLL-2009 (SRL).

Both formats are parsed with the ``conllu`` library (PyPI ``conllu``); this module
only maps its token lists onto :class:`Sentence`. Multiword-token ranges (ids
``3-4``) and empty nodes (ids ``8.1``, enhanced dependencies) are skipped: the
basic tree is over the integer-id words only, and a word's head is always an
integer id (0 = root), so nothing else changes. A malformed sentence raises
``ValueError`` naming its id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

#: Columns of CoNLL-2009 before the per-predicate argument columns (Hajic et al. 2009).
CONLL2009_FIELDS: tuple[str, ...] = ("id", "form", "lemma", "plemma", "pos", "ppos", "feat", "pfeat",
                                     "head", "phead", "deprel", "pdeprel", "fillpred", "pred")


@dataclass(frozen=True)
class Token:
    """One word of the basic tree.

    Attributes:
        form, lemma: surface form and lemma.
        upos: universal POS tag (CoNLL-2009: its POS column).
        feats: morphological features as ``"Name=Value"`` strings, sorted.
        head: 1-based index of the head word, 0 for the root.
        deprel: relation to the head, subtypes kept (``nsubj:pass``).
    """

    form: str
    lemma: str
    upos: str
    feats: tuple[str, ...]
    head: int
    deprel: str


@dataclass(frozen=True)
class Sentence:
    """A sentence: its id (``sent_id`` comment, else ``"<source>-<n>"``), text and words.

    ``arguments`` (CoNLL-2009 only) lists ``(predicate word, argument word, role)``
    triples with 1-based word indices; empty for CoNLL-U.
    """

    sent_id: str
    tokens: tuple[Token, ...]
    text: str = ""
    arguments: tuple[tuple[int, int, str], ...] = field(default=())

    def __len__(self) -> int:
        return len(self.tokens)

    def arcs(self) -> list[tuple[int, int, str]]:
        """``(head, dependent, deprel)`` with 0-based word indices, root arcs excluded."""
        return [(t.head - 1, i, t.deprel) for i, t in enumerate(self.tokens) if t.head > 0]


def _feats(value: object) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, dict):
        return tuple(sorted(f"{k}={v}" for k, v in value.items()))
    return tuple(sorted(p for p in str(value).split("|") if p and p != "_"))


def _check(sent_id: str, tokens: list[Token]) -> None:
    if not tokens:
        raise ValueError(f"sentence {sent_id}: no words")
    n = len(tokens)
    roots = 0
    for i, tok in enumerate(tokens, start=1):
        if not 0 <= tok.head <= n:
            raise ValueError(f"sentence {sent_id}: word {i} has head {tok.head} outside 0..{n}")
        if tok.head == i:
            raise ValueError(f"sentence {sent_id}: word {i} is its own head")
        roots += tok.head == 0
    if roots == 0:
        raise ValueError(f"sentence {sent_id}: no root word (head 0)")


def _words(tokenlist) -> list[dict]:
    """The integer-id words of a ``conllu.TokenList`` (ranges and empty nodes dropped)."""
    words = [t for t in tokenlist if isinstance(t["id"], int)]
    ids = [t["id"] for t in words]
    if ids != list(range(1, len(ids) + 1)):
        sid = tokenlist.metadata.get("sent_id", "?")
        raise ValueError(f"sentence {sid}: word ids are not 1..{len(ids)} (got {ids[:8]}...)")
    return words


def _head(value: object, sent_id: str, index: int) -> int:
    if isinstance(value, int):
        return value
    raise ValueError(f"sentence {sent_id}: word {index} has no integer head (got {value!r})")


def parse_conllu(text: str, source: str = "conllu") -> list[Sentence]:
    """Sentences of a CoNLL-U document (UD v2), in file order."""
    import conllu

    out = []
    for n, tokenlist in enumerate(conllu.parse(text), start=1):
        sent_id = tokenlist.metadata.get("sent_id") or f"{source}-{n}"
        tokens = [Token(str(t["form"]), str(t["lemma"]), str(t["upos"] or "_"), _feats(t["feats"]),
                        _head(t["head"], sent_id, i), str(t["deprel"] or "dep"))
                  for i, t in enumerate(_words(tokenlist), start=1)]
        _check(sent_id, tokens)
        out.append(Sentence(sent_id, tuple(tokens), tokenlist.metadata.get("text", "")))
    return out


def parse_conll2009(text: str, source: str = "conll2009") -> list[Sentence]:
    """Sentences of a CoNLL-2009 document (gold columns: POS, FEAT, HEAD, DEPREL; APREDs).

    The k-th argument column holds the roles of the k-th predicate (the k-th word
    whose FILLPRED is ``Y``); ``Sentence.arguments`` collects them.
    """
    import conllu

    width = 0
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            width = len(line.split("\t"))
            break
    fields = CONLL2009_FIELDS + tuple(f"apred{k}" for k in range(max(0, width - len(CONLL2009_FIELDS))))
    parsers = {"head": lambda line, i: int(line[i]) if line[i].isdigit() else line[i]}
    out = []
    for n, tokenlist in enumerate(conllu.parse(text, fields=fields, field_parsers=parsers), start=1):
        sent_id = tokenlist.metadata.get("sent_id") or f"{source}-{n}"
        words = _words(tokenlist)
        tokens = [Token(str(t["form"]), str(t["lemma"]), str(t["pos"]), _feats(t["feat"]),
                        _head(t["head"], sent_id, i), str(t["deprel"]))
                  for i, t in enumerate(words, start=1)]
        _check(sent_id, tokens)
        predicates = [i for i, t in enumerate(words, start=1) if t.get("fillpred") == "Y"]
        arguments = []
        for k, pred in enumerate(predicates):
            key = f"apred{k}"
            for i, t in enumerate(words, start=1):
                role = t.get(key)
                if role and role != "_":
                    arguments.append((pred, i, str(role)))
        out.append(Sentence(sent_id, tuple(tokens), " ".join(t.form for t in tokens), tuple(arguments)))
    return out


#: Readers by format name (``conllu`` dataset builder's ``format`` parameter).
READERS = {"conllu": parse_conllu, "conll2009": parse_conll2009}


def relation_counts(sentences: Iterable[Sentence]) -> dict[str, int]:
    """How often each relation label occurs (root arcs excluded)."""
    counts: dict[str, int] = {}
    for sentence in sentences:
        for _h, _d, rel in sentence.arcs():
            counts[rel] = counts.get(rel, 0) + 1
    return counts
