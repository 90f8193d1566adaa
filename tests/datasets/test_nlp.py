"""The NLP family: parsing, token graphs, task labels and ground truth, EWT sources.

Hand-written trees check the labels against counts done by hand; mirror-based
tests use the shared ``mirror`` fixture (skip locally without it, FAIL in CI).
"""

from __future__ import annotations

import lzma
import urllib.error

import pytest
import torch

from suite.core.types import TaskLevel
from suite.datasets import DatasetUnavailable, load_dataset
from suite.datasets.nlp import ewt, tasks
from suite.datasets.nlp.graphs import SIDE_COLS, UPOS_COL, WORD_COL, sentence_graph
from suite.datasets.nlp.parse import Sentence, Token, parse_conll2009, parse_conllu
from suite.datasets.nlp.vocab import AGAINST, ALONG, SELF, UNK, Vocabulary

# "I don't know": a multiword token (2-3) and an empty node (4.1) that must be skipped.
CONLLU = """# sent_id = email-test-0001
# text = I don't know what he saw.
1\tI\tI\tPRON\tPRP\tCase=Nom|Number=Sing|Person=1\t4\tnsubj\t4:nsubj\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\tMood=Ind\t4\taux\t4:aux\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t4:advmod\t_
4\tknow\tknow\tVERB\tVB\tVerbForm=Inf\t0\troot\t0:root\t_
4.1\tknow\tknow\tVERB\tVB\t_\t_\t_\t4:conj\tCopyOf=4
5\twhat\twhat\tPRON\tWP\tPronType=Int\t7\tobj\t7:obj\t_
6\the\the\tPRON\tPRP\tCase=Nom\t7\tnsubj\t7:nsubj\t_
7\tsaw\tsee\tVERB\tVBD\tTense=Past\t4\tccomp\t4:ccomp\tSpaceAfter=No
8\t.\t.\tPUNCT\t.\t_\t4\tpunct\t4:punct\t_

"""


def _tok(form, upos, head, rel, feats=()):
    return Token(form, form, upos, tuple(feats), head, rel)


def test_conllu_skips_multiword_tokens_and_empty_nodes():
    [sentence] = parse_conllu(CONLLU)
    assert sentence.sent_id == "email-test-0001"
    assert [t.form for t in sentence.tokens] == ["I", "do", "n't", "know", "what", "he", "saw", "."]
    assert [t.head for t in sentence.tokens] == [4, 4, 4, 0, 7, 7, 4, 4]
    assert sentence.tokens[0].feats == ("Case=Nom", "Number=Sing", "Person=1")
    assert (3, 6, "ccomp") in sentence.arcs() and len(sentence.arcs()) == 7


def test_conllu_rejects_a_bad_head_with_the_sentence_id():
    bad = CONLLU.replace("\t7\tobj\t", "\t17\tobj\t")
    with pytest.raises(ValueError, match="email-test-0001.*head 17"):
        parse_conllu(bad)


def test_conll2009_reads_trees_and_arguments():
    text = ("1\tJohn\tjohn\tjohn\tNNP\tNNP\t_\t_\t2\t2\tSBJ\tSBJ\t_\t_\tA0\t_\n"
            "2\tsaw\tsee\tsee\tVBD\tVBD\t_\t_\t0\t0\tROOT\tROOT\tY\tsee.01\t_\t_\n"
            "3\tMary\tmary\tmary\tNNP\tNNP\t_\t_\t2\t2\tOBJ\tOBJ\t_\t_\tA1\t_\n"
            "4\tleave\tleave\tleave\tVB\tVB\t_\t_\t2\t2\tOPRD\tOPRD\tY\tleave.01\t_\t_\n\n")
    [sentence] = parse_conll2009(text)
    assert [t.deprel for t in sentence.tokens] == ["SBJ", "ROOT", "OBJ", "OPRD"]
    assert sentence.arguments == ((2, 1, "A0"), (2, 3, "A1"))


def test_graph_has_both_directions_with_distinct_types_and_self_loops():
    [sentence] = parse_conllu(CONLLU)
    vocab = Vocabulary.build([sentence], [sentence], min_count=1)
    g = sentence_graph(sentence, vocab)
    n, arcs = len(sentence), sentence.arcs()
    assert g.edge_index.size(1) == 2 * len(arcs) + n
    rel = {r: i for i, r in enumerate(vocab.relations)}
    for a, (h, d, r) in enumerate(arcs):
        assert g.edge_index[:, 2 * a].tolist() == [h, d] and int(g.edge_type[2 * a]) == 2 * rel[r]
        assert g.edge_index[:, 2 * a + 1].tolist() == [d, h] and int(g.edge_type[2 * a + 1]) == 2 * rel[r] + 1
        assert int(g.arc[2 * a]) == int(g.arc[2 * a + 1]) == a
    loops = g.edge_index[:, 2 * len(arcs):]
    assert (loops[0] == loops[1]).all() and (g.edge_type[2 * len(arcs):] == vocab.num_edge_types - 1).all()
    directions = torch.tensor(vocab.edge_type_directions())[g.edge_type]
    assert directions[: 2 * len(arcs)].tolist() == [ALONG, AGAINST] * len(arcs)
    assert (directions[2 * len(arcs):] == SELF).all()
    names = vocab.edge_type_names()
    assert names[int(g.edge_type[0])] == "nsubj" and names[int(g.edge_type[1])] == "nsubj^-1"
    # features: word ids, POS ids, side of the head (I is left of know; know is the root)
    assert vocab.words[int(g.x[3, WORD_COL])] == "know" and vocab.upos[int(g.x[3, UPOS_COL])] == "VERB"
    assert g.x[0, SIDE_COLS[0]] == 1 and g.x[3, SIDE_COLS[2]] == 1 and g.x[7, SIDE_COLS[1]] == 1


def test_rare_and_unseen_words_map_to_unk():
    train = [Sentence("s1", (_tok("Dog", "NOUN", 2, "nsubj"), _tok("barks", "VERB", 0, "root"))),
             Sentence("s2", (_tok("dog", "NOUN", 2, "nsubj"), _tok("sleeps", "VERB", 0, "root")))]
    vocab = Vocabulary.build(train, train, min_count=2)
    assert vocab.words == (UNK, "dog")
    assert vocab.word_id("DOG") == 1 and vocab.word_id("barks") == 0 and vocab.word_id("cat") == 0


def _tree(rels_heads, upos=None):
    """A sentence from ``[(head, rel), ...]`` (1-based heads); tokens named w1..wn."""
    upos = upos or ["X"] * len(rels_heads)
    return Sentence("t", tuple(_tok(f"w{i + 1}", upos[i], h, r) for i, (h, r) in enumerate(rels_heads)))


def test_dep_count_labels_queries_and_ground_truth_on_hand_built_trees():
    # counts: amod 2, det 1, nsubj 1 in s0; s1: amod 0, det 2, nsubj 1
    s0 = _tree([(3, "det"), (3, "amod"), (4, "nsubj"), (0, "root"), (4, "obj"), (5, "amod")])
    s1 = _tree([(2, "det"), (4, "nsubj"), (2, "det"), (0, "root")])
    splits = {"train": [s0, s1, s0, s1], "val": [s0, s1], "test": [s1, s0]}
    ds = tasks.build_dep_count(tasks.dataset_info("dep-count"), splits, seed=0, num_query_relations=4,
                               min_count=1, params={})
    assert ds.num_graphs == 8 and ds.y.tolist() == [0, 1, 0, 1, 0, 1, 0, 1]  # alternating
    k = len(ds.data.query_relations)
    for g in range(ds.num_graphs):
        x, yq = ds.data.query[g]
        sentence = (splits["train"] + splits["val"] + splits["test"])[g]
        counts = {r: sum(1 for *_a, rel in sentence.arcs() if rel == r) for r in (x, yq)}
        assert counts[x] != counts[yq] and int(counts[x] > counts[yq]) == int(ds.y[g])
        lo, hi = int(ds.edge_ptr[g]), int(ds.edge_ptr[g + 1])
        names = [ds.data.edge_type_names[int(t)] for t in ds.data.edge_type[lo:hi]]
        truth = ds.gt_edge_mask[lo:hi]
        assert truth.tolist() == [n.removesuffix("^-1") in (x, yq) for n in names]
        assert int(truth.sum()) == 2 * (counts[x] + counts[yq])
        n0 = int(ds.node_ptr[g])
        q = ds.data.x[n0, -2 * k:]
        assert q[ds.data.query_relations.index(x)] == 1 and q[k + ds.data.query_relations.index(yq)] == 1
    assert ds.num_edge_types == 2 * len(ds.data.edge_type_names[:-1]) // 2 + 1


def test_dep_count_skips_sentences_with_only_ties():
    tie = _tree([(2, "det"), (0, "root")])  # one det arc: every query pair among {det, x} ...
    assert tasks.draw_query({"det": 1, "amod": 1}, ["det", "amod"], 1, __import__("numpy").random.default_rng(0)) is None
    assert tasks.draw_query({"det": 1}, ["det", "amod"], 1, __import__("numpy").random.default_rng(0)) == ("det", "amod")
    assert tie.arcs() == [(1, 0, "det")]


@pytest.mark.parametrize("question, positives", [("obj", {1}), ("comp", {1}), ("nsubj-pass", {6})])
def test_dep_role_labels_and_hidden_core_relations(question, positives):
    # "he said she ate it ; it was eaten": said(2) ccomp ate(4) obj it(5); eaten(9) nsubj:pass it(7)
    s = _tree([(2, "nsubj"), (0, "root"), (4, "nsubj"), (2, "ccomp"), (4, "obj"), (2, "punct"),
               (9, "nsubj:pass"), (9, "aux:pass"), (2, "parataxis")],
              ["PRON", "VERB", "PRON", "VERB", "PRON", "PUNCT", "PRON", "AUX", "VERB"])
    splits = {"train": [s, s], "val": [s], "test": [s]}
    ds = tasks.build_dep_role(tasks.dataset_info("dep-role"), splits, 0, question, balance=False,
                              min_count=1, params={})
    assert ds.task == TaskLevel.NODE
    names = ds.data.edge_type_names
    assert "core" in names and not {"obj", "nsubj", "ccomp", "nsubj:pass"} & set(names)
    assert "aux:pass" in names  # non-core labels stay visible
    n = len(s)
    verbs = {1, 3, 8}
    want_pos = {"obj": {3}, "comp": {1}, "nsubj-pass": {8}}[question]
    for k, offset in enumerate(range(0, 4 * n, n)):
        got = {i for i in range(n) if ds.y[offset + i] == 1}
        assert got == want_pos
    assert set(ds.splits["train"].tolist()) == {v + o for v in verbs for o in (0, n)}
    deciding = {"obj": (3, 4), "comp": (1, 3), "nsubj-pass": (8, 6)}[question]
    ei = ds.data.edge_index[:, ds.gt_edge_mask]
    pairs = {tuple(p) for p in ei.t().tolist() if p[0] < n and p[1] < n}
    assert pairs == {deciding, deciding[::-1]}
    assert ds.explain_ids["test"].tolist() == [3 * n + next(iter(want_pos))]


def test_dep_role_balances_targets():
    s = _tree([(2, "nsubj"), (0, "root"), (2, "obj"), (5, "nsubj"), (2, "conj")],
              ["PRON", "VERB", "PRON", "PRON", "VERB"])
    splits = {"train": [s] * 4, "val": [s] * 2, "test": [s] * 2}
    ds = tasks.build_dep_role(tasks.dataset_info("dep-role"), splits, 0, "obj", True, 1, {})
    for ids in ds.splits.values():
        assert ids.numel() > 0 and float(ds.y[ids].float().mean()) == 0.5


def test_genre_is_the_sentence_id_prefix():
    assert ewt.genre("answers-20111105112131AA6gIX6_ans-0001") == "answers"
    assert ewt.genre("weblog-blogspot.com_nominations_20041117172713_ENG_20041117_172713-0002") == "weblog"
    for g in ewt.GENRES:
        assert ewt.genre(f"{g}-x-0001") == g
    with pytest.raises(ValueError, match="genre prefix"):
        ewt.genre("tweets-0001")


def test_ewt_offline_without_mirror_fails_in_one_line(monkeypatch, suite_home):
    from suite.datasets import fetch
    monkeypatch.delenv("SUITE_DATA_MIRROR", raising=False)

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (mocked)")

    monkeypatch.setattr(fetch.urllib.request, "urlopen", refuse)
    monkeypatch.setattr(ewt, "fetch_url", refuse)
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset("dep-count", seed=0, cache_dir=suite_home / "cache")
    message = str(err.value)
    assert "\n" not in message and "ud-english-ewt" in message and "SUITE_DATA_MIRROR" in message


def test_ewt_download_is_verified_and_cached(monkeypatch, suite_home, mirror):
    monkeypatch.delenv("SUITE_DATA_MIRROR", raising=False)
    raw = lzma.decompress((mirror / ewt.MIRROR_DIR / "en_ewt-ud-dev.conllu.xz").read_bytes())
    calls = []
    monkeypatch.setattr(ewt, "fetch_url", lambda url: calls.append(url) or raw)
    sentences, note = ewt.read_split("dev")
    assert len(sentences) == 2001 and note.startswith("downloaded") and "UD_English-EWT" in calls[0]
    again, note = ewt.read_split("dev")
    assert note.startswith("download cache") and len(calls) == 1 and again == sentences
    monkeypatch.setattr(ewt, "fetch_url", lambda url: raw.replace(b"the", b"teh"))
    (ewt.download_dir() / ewt.MIRROR_DIR / "en_ewt-ud-test.conllu").unlink(missing_ok=True)
    with pytest.raises(DatasetUnavailable, match="SHA-256"):
        ewt.read_split("test")


def test_ewt_dev_and_test_from_the_mirror(mirror, suite_home):
    # (train takes ~20 s to parse: checked in the slow tier, tests/test_quality_nlp.py)
    for split in ("dev", "test"):
        sentences, note = ewt.read_split(split)
        assert note.startswith("mirror") and len(sentences) == ewt.SENTENCES[split]
        assert all(ewt.genre(s.sent_id) in ewt.GENRES for s in sentences)
        assert sum(len(s) for s in sentences) == {"dev": 25147, "test": 25094}[split]


def test_builds_from_a_mirror_excerpt_are_deterministic(mirror, tmp_path):
    raw = lzma.decompress((mirror / ewt.MIRROR_DIR / "en_ewt-ud-dev.conllu.xz").read_bytes()).decode()
    path = tmp_path / "excerpt.conllu"
    path.write_text("\n\n".join(raw.split("\n\n")[:80]) + "\n\n", encoding="utf-8")
    a = load_dataset("conllu", seed=1, path=str(path))
    b = load_dataset("conllu", seed=1, path=str(path))
    assert torch.equal(a.data.x, b.data.x) and torch.equal(a.y, b.y) and a.data.query == b.data.query
    assert torch.equal(a.gt_edge_mask, b.gt_edge_mask) and a.data.sent_ids == b.data.sent_ids
    c = load_dataset("conllu", seed=2, path=str(path))
    assert c.data.sent_ids != a.data.sent_ids  # another seed, another split
    assert abs(float(a.y.float().mean()) - 0.5) < 0.05


def test_conllu_dataset_reads_a_user_file(tmp_path):
    path = tmp_path / "mine.conllu"
    blocks = [CONLLU.replace("email-test-0001", f"s{i}") for i in range(12)]
    path.write_text("".join(blocks), encoding="utf-8")
    ds = load_dataset("conllu", seed=0, path=str(path), num_query_relations=4)
    assert ds.num_graphs >= 3 and ds.gt_edge_mask.any()
    with pytest.raises(Exception, match="path"):
        load_dataset("conllu", seed=0, path=str(tmp_path / "missing.conllu"))


def test_matrix_skips_type_blind_models_on_dep_count_and_syntactic_gcn_without_types():
    from suite.matrix import expand, parse_matrix

    config = parse_matrix({"name": "t", "seeds": [0], "datasets": {"dep-count": {}, "ba-shapes": {}},
                           "models": {"gcn": {}, "rgcn": {}, "syntactic-gcn": {}},
                           "explainers": {"random": {}}})
    cells, skipped = expand(config)
    ran = {(c.dataset, c.model) for c in cells}
    assert ran == {("dep-count", "rgcn"), ("dep-count", "syntactic-gcn"), ("ba-shapes", "gcn"),
                   ("ba-shapes", "rgcn")}
    reasons = {(c.dataset, c.model): r for c, r in skipped}
    assert "ignores edge types" in reasons[("dep-count", "gcn")]
    assert "needs typed edges" in reasons[("ba-shapes", "syntactic-gcn")]


def test_syntactic_gcn_on_a_token_graph_sends_one_gated_message_per_edge(tmp_path):
    from suite.graph.masking import message_hooks
    from suite.models import build_model

    path = tmp_path / "mine.conllu"
    path.write_text("".join(CONLLU.replace("email-test-0001", f"s{i}") for i in range(6)), encoding="utf-8")
    ds = load_dataset("conllu", seed=0, path=str(path), num_query_relations=3)
    for layers in (1, 2, 3):
        model = build_model("syntactic-gcn", ds, hidden=8, num_layers=layers).eval()
        sizes = []
        d = ds.data
        with message_hooks(model, lambda ctx, m: sizes.append(m.size(0)) or m):
            out = model(d.x, d.edge_index, batch=d.batch, edge_type=d.edge_type)
        assert out.shape == (ds.num_graphs, 2) and sizes == [d.edge_index.size(1)] * layers
    with pytest.raises(Exception, match="num_layers"):
        build_model("syntactic-gcn", ds, num_layers=4)
