"""NLP datasets: gold dependency trees (UD English EWT or a user's CoNLL-U / CoNLL-2009 file).

Importing this package registers ``dep-count``, ``dep-role``, ``ewt-genre`` and
``conllu`` (see :mod:`suite.datasets.nlp.tasks`).
"""

from suite.datasets.nlp import tasks  # noqa: F401  (registers the datasets)
from suite.datasets.nlp.parse import Sentence, Token, parse_conll2009, parse_conllu

__all__ = ["Sentence", "Token", "parse_conll2009", "parse_conllu"]
