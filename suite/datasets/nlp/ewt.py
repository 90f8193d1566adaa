"""Where the UD English Web Treebank comes from: the data mirror or the official release.

Order (as for every real dataset of the suite): the local mirror when
``SUITE_DATA_MIRROR`` is set (``ud-english-ewt/en_ewt-ud-{split}.conllu.xz``); else
an earlier verified download in ``<dataset cache>/downloads/ud-english-ewt``; else
a download of the release file from the official repository (``urllib``, 30 s
timeout); otherwise ``DatasetUnavailable`` with a one-line reason.

Verification: ``SHA256`` holds the digests of the *uncompressed* CoNLL-U text. Dev and
test are byte-identical to the UD v2.16 release files; the mirror's train file was rebuilt
from the repository's per-document sources (same 12,544 sentences), so a downloaded train
file is checked by its sentence count (``SENTENCES``) instead of the digest. Provenance:
docs/data.md.
"""

from __future__ import annotations

import hashlib
import json
import lzma

from suite.core.files import atomic_write
from suite.core.paths import Paths, data_mirror
from suite.datasets.base import DatasetUnavailable
from suite.datasets.fetch import download_dir, fetch_url, first_line
from suite.datasets.nlp.parse import Sentence, Token, parse_conllu

SPLITS: tuple[str, ...] = ("train", "dev", "test")
MIRROR_DIR = "ud-english-ewt"
RELEASE_TAG = "r2.16"
URL = "https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/{tag}/en_ewt-ud-{split}.conllu"
LICENCE = "CC BY-SA 4.0"
ATTRIBUTION = ("Universal Dependencies English Web Treebank, (c) 2013-2021 The Board of Trustees of "
               "The Leland Stanford Junior University")
CITATION = ("Silveira, Dozat, de Marneffe, Bowman, Connor, Bauer, Manning. A Gold Standard Dependency "
            "Corpus for English. LREC 2014; Universal Dependencies v2 (de Marneffe et al., CL 2021)")

#: SHA-256 of the uncompressed files we verified (train: the mirror's rebuild, see module doc).
SHA256: dict[str, str] = {
    "train": "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
    "dev": "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
    "test": "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd",
}
#: Sentences per split in the release.
SENTENCES: dict[str, int] = {"train": 12544, "dev": 2001, "test": 2077}
#: Splits whose digest matches the official release byte for byte.
RELEASE_IDENTICAL = frozenset({"dev", "test"})


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _verified(split: str, raw: bytes, where: str) -> list[Sentence]:
    """Parse ``raw`` and check it (digest, or sentence count for a downloaded train file)."""
    digest = _digest(raw)
    if digest != SHA256[split] and (split in RELEASE_IDENTICAL or where == "mirror"):
        raise DatasetUnavailable(f"ud-english-ewt {split}: the {where} copy fails its SHA-256 check "
                                 f"(got {digest[:12]}..., expected {SHA256[split][:12]}...)")
    try:
        sentences = parse_conllu(raw.decode("utf-8"), source=f"en_ewt-{split}")
    except (UnicodeDecodeError, ValueError) as exc:
        raise DatasetUnavailable(f"ud-english-ewt {split}: the {where} copy is not valid CoNLL-U "
                                 f"({first_line(exc)})") from None
    if len(sentences) != SENTENCES[split]:
        raise DatasetUnavailable(f"ud-english-ewt {split}: the {where} copy has {len(sentences)} "
                                 f"sentences, the release {SENTENCES[split]}")
    return sentences


def read_split(split: str) -> tuple[list[Sentence], str]:
    """The sentences of EWT ``split`` (train/dev/test) and a one-line note of their source."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {', '.join(SPLITS)} (got {split!r})")
    mirror = data_mirror()
    if mirror is not None:
        path = mirror / MIRROR_DIR / f"en_ewt-ud-{split}.conllu.xz"
        if not path.is_file():
            raise DatasetUnavailable(f"ud-english-ewt: the data mirror {mirror} has no "
                                     f"{MIRROR_DIR}/{path.name}")
        return _verified(split, lzma.decompress(path.read_bytes()), "mirror"), f"mirror {path}"
    cached = download_dir() / MIRROR_DIR / f"en_ewt-ud-{split}.conllu"
    if cached.is_file():
        try:
            return _verified(split, cached.read_bytes(), "download"), f"download cache {cached}"
        except DatasetUnavailable:
            pass  # a stale or torn copy: download again
    url = URL.format(tag=RELEASE_TAG, split=split)
    try:
        raw = fetch_url(url)
    except Exception as exc:  # any network failure becomes the one-line reason
        raise DatasetUnavailable(f"ud-english-ewt: no data mirror (SUITE_DATA_MIRROR unset) and the "
                                 f"download of {url} failed ({first_line(exc)})") from None
    sentences = _verified(split, raw, "download")
    atomic_write(cached, raw)
    return sentences, f"downloaded {url}"


def load_split(split: str) -> list[Sentence]:
    """:func:`read_split`, with the parsed sentences kept in the dataset cache.

    Parsing the train file takes ~20 s; the parse is stored as
    ``<dataset cache>/parsed/ud-english-ewt-<split>-<sha prefix>.json`` (plain JSON of
    the sentences, never a pickle, so a planted file cannot run code; written
    atomically) and read back in about a second. The key is the verified digest, so a
    changed source reparses; an unreadable or malformed file is reparsed.
    """
    path = Paths.from_env().dataset_cache / "parsed" / f"{MIRROR_DIR}-{split}-{SHA256[split][:12]}.json"
    if path.is_file():
        try:
            return sentences_from_json(path.read_text(encoding="utf-8"))
        except (ValueError, TypeError, KeyError, OSError):  # torn or foreign: reparsed
            pass
    sentences, _note = read_split(split)
    atomic_write(path, sentences_to_json(sentences))
    return sentences


def sentences_to_json(sentences: list[Sentence]) -> str:
    """The sentences as JSON text (lists and strings only)."""
    return json.dumps([[s.sent_id, s.text, [[t.form, t.lemma, t.upos, list(t.feats), t.head,
                                             t.deprel] for t in s.tokens],
                        [list(a) for a in s.arguments]] for s in sentences])


def sentences_from_json(text: str) -> list[Sentence]:
    """The inverse of :func:`sentences_to_json`; ``ValueError`` or ``TypeError`` on
    anything else."""
    out = []
    for sent_id, sentence_text, tokens, arguments in json.loads(text):
        out.append(Sentence(
            sent_id=str(sent_id), text=str(sentence_text),
            tokens=tuple(Token(str(f), str(lemma), str(upos), tuple(map(str, feats)), int(head),
                               str(deprel)) for f, lemma, upos, feats, head, deprel in tokens),
            arguments=tuple((int(p), int(a), str(r)) for p, a, r in arguments)))
    return out


def genre(sent_id: str) -> str:
    """The EWT document genre of a sentence id: its prefix before the first ``-``.

    ``answers-20111105112131AA6gIX6_ans-0001`` -> ``answers``; the five genres are
    answers, email, newsgroup, reviews, weblog.
    """
    prefix, sep, _rest = sent_id.partition("-")
    if not sep or prefix not in GENRES:
        raise ValueError(f"sent_id {sent_id!r}: expected a genre prefix ({', '.join(GENRES)})")
    return prefix


GENRES: tuple[str, ...] = ("answers", "email", "newsgroup", "reviews", "weblog")
