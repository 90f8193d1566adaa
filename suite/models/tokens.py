"""Token encoder for the NLP family: word and POS embeddings plus the remaining features.

Token graphs (``data.feature_format == "tokens"``, see
:mod:`suite.datasets.nlp.graphs`) store the word id in column 0 and the POS id in
column 1 of the float ``x``; the other columns are one-hot / multi-hot. The ids are
read with :func:`suite.models.ogb._lookup`, the suite's piecewise-linear embedding
lookup (exact at integer ids, differentiable in between, so gradient explainers get
a signal), from tables learned with the model: rows = the training vocabulary,
row 0 = unknown/rare words. The remaining columns go through a Linear layer.
"""

from __future__ import annotations

from torch import Tensor, nn

from suite.core.types import BenchmarkDataset
from suite.models.ogb import _lookup

TOKEN_FORMAT = "tokens"


def is_token_format(dataset: BenchmarkDataset) -> bool:
    return getattr(dataset.data, "feature_format", None) == TOKEN_FORMAT


class TokenEncoder(nn.Module):
    """``x`` [N, 2 + F] -> [N, hidden]: ``E_word[x0] + E_pos[x1] + Linear(x[:, 2:])``.

    Args:
        num_words, num_tags: vocabulary sizes (rows of the two tables).
        num_other: F, the remaining feature columns.
        hidden: output width.
        words: read the word ids (False: POS and features only; for tasks that do not
            depend on the words, where word embeddings only let the model memorise).
    """

    def __init__(self, num_words: int, num_tags: int, num_other: int, hidden: int,
                 words: bool = True) -> None:
        super().__init__()
        self.use_words = words
        self.words = nn.Embedding(num_words if words else 1, hidden)
        self.tags = nn.Embedding(num_tags, hidden)
        self.other = nn.Linear(num_other, hidden) if num_other > 0 else None

    def forward(self, x: Tensor) -> Tensor:
        out = _lookup(self.tags, x[:, 1])
        if self.use_words:
            out = out + _lookup(self.words, x[:, 0])
        if self.other is not None:
            out = out + self.other(x[:, 2:])
        return out


def token_encoder(dataset: BenchmarkDataset, hidden: int, words: bool = True) -> TokenEncoder:
    """The encoder for a token-format dataset (its vocabulary sizes from ``data.token_vocab_sizes``)."""
    num_words, num_tags = (int(v) for v in dataset.data.token_vocab_sizes)
    return TokenEncoder(num_words, num_tags, dataset.num_node_features - 2, hidden, words)
