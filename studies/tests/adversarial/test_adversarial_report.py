"""``suite report adversarial``: paired differences and their intervals, the generated
findings, the preset, and a tiny end-to-end run through the report's code path."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ttest_rel
from suite_studies.adversarial.design import (
    StudyDesign,
    claims,
    family_tests,
    seed_differences,
    usable,
    usable_models,
)
from suite_studies.adversarial.report import (
    ACC_PLOT,
    DIFF_PLOT,
    REPORT_FILE,
    SWEEP_PLOT,
    adversarial_document,
    attack_specs,
    family_findings,
    in_matrix_order,
    model_findings,
    paired_table,
    quick_document,
    run_study,
    sweep_documents,
    write_study,
)
from suite_studies.claims import Verdict

from suite.core.paths import Paths
from suite.core.stats import paired_difference, t_critical
from suite.matrix import expand, load_matrix, parse_matrix
from suite.reports import REPORTS

# ----------------------------------------------------------------------------- statistics


def test_paired_difference_matches_a_hand_computation():
    treated, baseline = [0.90, 0.80, 0.85, 0.70], [0.70, 0.75, 0.70, 0.72]
    diffs = [0.20, 0.05, 0.15, -0.02]
    mean, sd = statistics.mean(diffs), statistics.stdev(diffs)
    half = 3.182 * sd / math.sqrt(4)  # t_{0.975, 3}
    out = paired_difference(treated, baseline)
    assert out.n == 4 and out.mean == pytest.approx(mean) and out.sd == pytest.approx(sd)
    assert out.lo == pytest.approx(mean - half, abs=1e-3)
    assert out.hi == pytest.approx(mean + half, abs=1e-3)
    assert not out.excludes_zero  # -0.048 .. +0.238
    clear = paired_difference([1.0, 1.1, 1.05], [0.5, 0.55, 0.5])
    assert clear.excludes_zero and clear.text().endswith("*")
    flat = paired_difference([0.5, 0.6], [0.6, 0.7])  # every seed moved alike: a point interval
    assert flat.excludes_zero and flat.text().endswith("* (sd 0)")
    # NaN pairs are dropped; one pair has no interval; none has no mean
    one = paired_difference([0.5, math.nan], [0.25, 0.1])
    assert one.n == 1 and one.mean == 0.25 and math.isnan(one.lo) and not one.excludes_zero
    assert paired_difference([], []).n == 0
    with pytest.raises(ValueError, match="paired"):
        paired_difference([1.0], [1.0, 2.0])


def test_t_critical_matches_the_printed_table():
    """Student's t at 97.5%, against the printed table's values (df 1, 4, 30) and 0.95 at df 4."""
    for df, printed in ((1, 12.706), (4, 2.776), (30, 2.042)):
        assert t_critical(df) == pytest.approx(printed, abs=1e-3)
    assert t_critical(4, 0.9) == pytest.approx(2.132, abs=1e-3)
    with pytest.raises(ValueError, match="df"):
        t_critical(0)


# ----------------------------------------------------------------------------- findings


def _cells(effects: dict[tuple[str, str], dict[str, list[float]]]) -> pd.DataFrame:
    """A cells frame by hand: (explainer, training) -> metric -> one value per seed."""
    rows = []
    for (explainer, training), metrics in effects.items():
        for seed in range(len(next(iter(metrics.values())))):
            rows.append({"cell_key": f"{explainer}/{training}/{seed}", "dataset": "ba-shapes",
                         "model": "gcn", "training": training, "explainer": explainer,
                         "seed": seed, "status": "done",
                         **{m: values[seed] for m, values in metrics.items()}})
    return pd.DataFrame(rows)


def test_paired_table_keeps_intervals_in_range_and_reports_unadjusted_p():
    base = [0.70, 0.80, 0.75, 0.72, 0.78]
    clear = [0.10, 0.12, 0.09, 0.11, 0.10]
    frame = _cells({
        ("saliency", "standard"): {"edge_auc": base, "model_acc_test": [0.9] * 5},
        ("saliency", "adv-features"): {"edge_auc": [b + d for b, d in zip(base, clear)],
                                       "model_acc_test": [0.9, 0.9, 0.7, 0.9, 0.9]},
        # bimodal: two seeds collapse, three do not; a t interval would leave [-1, 1]
        ("graphmask", "standard"): {"edge_auc": [0.95] * 5, "model_acc_test": [0.9] * 5},
        ("graphmask", "adv-features"): {"edge_auc": [0.05, 0.05, 0.95, 0.95, 0.95],
                                        "model_acc_test": [0.9] * 5},
    })
    diffs = paired_table(frame, ("dataset", "model", "explainer"), ["edge_auc"],
                         accuracy="model_acc_test")
    saliency = diffs[diffs["explainer"] == "saliency"].iloc[0]
    assert saliency["n"] == 5 and saliency["diff"] == pytest.approx(0.104)
    assert saliency["excludes_zero"] and saliency["method"] == "t"
    assert saliency["acc_diff"] == pytest.approx(-0.04)
    assert saliency["p"] == pytest.approx(
        ttest_rel([b + d for b, d in zip(base, clear)], base).pvalue)
    gm = diffs[diffs["explainer"] == "graphmask"].iloc[0]
    assert gm["method"] == "bootstrap" and -1.0 <= gm["lo"] <= gm["hi"] <= 1.0
    within = paired_table(frame, ("dataset", "model", "explainer"), ["edge_auc"],
                          accuracy="model_acc_test", band=0.05)
    assert within.set_index("explainer").at["saliency", "n"] == 4  # seed 2 lost 0.2 accuracy


def _planted(effects: dict[str, list[float]], seeds: int = 10, below: dict | None = None
             ) -> pd.DataFrame:
    """Cells of one dataset/model: explainer -> the adv-features minus standard edge AUC per
    seed; ``below``: {(training, seed)} whose model is below its floor."""
    rows = []
    for explainer, deltas in effects.items():
        for seed in range(seeds):
            for training, value in (("standard", 0.5), ("adv-features", 0.5 + deltas[seed])):
                rows.append({"cell_key": f"{explainer}/{training}/{seed}",
                             "dataset": "ba-shapes", "model": "gin", "training": training,
                             "explainer": explainer, "seed": seed, "status": "done",
                             "edge_auc": value, "model_acc_test": 0.96, "constant_share": 0.0,
                             "below_accuracy_floor": float((training, seed) in (below or {}))})
    return pd.DataFrame(rows)


def test_effects_are_found_with_fdr_control_and_confirmed_only_on_fresh_seeds():
    rng = np.random.default_rng(0)
    real = (0.10 + 0.01 * rng.standard_normal(10)).tolist()             # on every seed
    fluke = [0.10, 0.11, 0.09, 0.10, 0.12] + (0.01 * rng.standard_normal(5)).tolist()
    nulls = {f"null{i}": (0.02 * rng.standard_normal(10)).tolist() for i in range(8)}
    frame = _planted({"saliency": real, "gnnexplainer": fluke, **nulls})
    design = StudyDesign()
    keys = ("dataset", "model", "explainer")
    family = family_tests(seed_differences(usable(frame), keys, ["edge_auc"], "model_acc_test"),
                          keys, design).set_index("explainer")
    assert len(family) == 10
    assert family.loc["saliency", "found"] and family.loc["saliency", "confirmed"]
    assert family.loc["gnnexplainer", "found"] and not family.loc["gnnexplainer", "confirmed"]
    assert not family.loc[list(nulls), "found"].any()
    assert family.loc["saliency", "n"] == 5 and family.loc["saliency", "n_confirm"] == 5
    # a model below its floor removes its seed's pair from every test
    below = _planted({"saliency": real}, below={("adv-features", 0), ("standard", 7)})
    kept = seed_differences(usable(below), keys, ["edge_auc"], "model_acc_test")
    assert sorted(kept["seed"]) == [1, 2, 3, 4, 5, 6, 8, 9]
    with pytest.raises(ValueError, match="must not find"):
        StudyDesign(discovery=(0, 1), confirmation=(1, 2))


def test_claims_pool_usable_pairs_leave_random_out_and_say_when_untestable():
    rng = np.random.default_rng(1)
    frame = _planted({"saliency": (0.05 + 0.01 * rng.standard_normal(10)).tolist(),
                      "random": [-0.5] * 10})
    keys = ("dataset", "model", "explainer")
    diffs = seed_differences(usable(frame), keys, ["edge_auc"], "model_acc_test")
    models = pd.DataFrame({"dataset": "ba-shapes", "model": "gin", "seed": list(range(10)) * 2,
                           "training": ["standard"] * 10 + ["adv-features"] * 10,
                           "clean": [0.96] * 20, "below_floor": [True] * 20,
                           "robust@adv-features": [0.5] * 10 + [0.9] * 10})
    out = {c.claim: c for c in claims(diffs, seed_differences(
        usable_models(models), ("dataset", "model"), ["clean", "robust@adv-features"]),
        ["adv-features"], StudyDesign())}
    auc = out["Explanations of adv-features-trained models match the ground truth better "
              "(edge AUC)"]
    assert auc.verdict is Verdict.SUPPORTED and auc.estimate == pytest.approx(0.05, abs=0.01)
    precondition = next(c for name, c in out.items() if "precondition" in name)
    assert precondition.verdict is Verdict.INCONCLUSIVE  # every model below its floor
    assert "0 seed(s)" in precondition.excluded
    fidelity = next(c for name, c in out.items() if "representation" in name)
    assert fidelity.verdict is Verdict.INCONCLUSIVE  # not measured here


def test_family_findings_say_what_was_found_and_confirmed():
    frame = _planted({"saliency": [0.1, 0.11, 0.09, 0.1, 0.12] * 2,
                      "random": [0.01, -0.01, 0.0, 0.02, -0.02] * 2})
    keys = ("dataset", "model", "explainer")
    family = family_tests(seed_differences(usable(frame), keys, ["edge_auc"]), keys,
                          StudyDesign())
    (line,) = family_findings(family, StudyDesign())
    assert line.startswith("edge_auc (higher is better), adv-features vs standard: 2 "
                           "comparisons tested on seeds 0-4; 1 found, 1 confirmed")
    assert "saliency on ba-shapes/gin higher (better)" in line
    assert family_findings(family.iloc[:0], StudyDesign())[0].startswith("No comparison")


def test_model_findings_state_robustness_and_clean_cost():
    models = pd.DataFrame({
        "dataset": "ba-shapes", "model": "gcn", "seed": [0, 1, 2] * 2,
        "training": ["standard"] * 3 + ["adv-features"] * 3,
        "clean": [0.90, 0.92, 0.91, 0.88, 0.89, 0.88],
        "robust@adv-features": [0.50, 0.55, 0.60, 0.90, 0.91, 0.93]})
    acc = paired_table(models, ("dataset", "model"), ["clean", "robust@adv-features"])
    (line,) = model_findings(acc)
    assert "from 0.550 (standard) to 0.913" in line and "beyond seed noise" in line
    assert "clean test accuracy 0.910 -> 0.883" in line


# ----------------------------------------------------------------------------- preset, matrices


def test_adversarial_preset_loads_and_expands():
    config = load_matrix("adversarial")
    cells, skipped = expand(config)
    # GCN is kept off BA-2Motifs and Tree-Cycles (chance-level there), nothing else skips
    assert {(c.dataset, c.model) for c, _ in skipped} == {("ba-2motifs", "gcn"),
                                                         ("tree-cycles", "gcn")}
    assert {c.dataset for c in cells} == {"ba-shapes", "tree-cycles", "ba-2motifs", "benzene"}
    assert set(config.trainings) == {"standard", "adv-features", "adv-structure"}
    assert config.seeds == tuple(range(10))  # seeds 0-4 find effects, 5-9 confirm them
    assert StudyDesign.halves(config.seeds) == StudyDesign()
    assert config.accuracy_floor is None and config.instances == "all"  # default floors, paired
    assert len(cells) == (2 * 2 + 2 * 1) * 3 * 6 * 10
    graph = {c.training: c.training_config for c in cells if c.dataset == "ba-2motifs"}
    node = {c.training: c.training_config for c in cells if c.dataset == "ba-shapes"}
    mol = {c.training: c.training_config for c in cells if c.dataset == "benzene"}
    assert graph["adv-structure"]["removal_only"] and not node["adv-structure"]["removal_only"]
    assert mol["adv-structure"]["removal_only"]
    assert node["adv-features"]["epsilon"] == 0.1 and graph["adv-features"]["epsilon"] == 0.05
    # every cut applies to the three training modes alike (the pairs stay matched)
    for level in (node, graph, mol):
        assert len({(t["epochs"], t["lr"], t["patience"]) for t in level.values()}) == 1
    assert graph["standard"]["epochs"] != mol["standard"]["epochs"]  # by_dataset reached it
    quick = parse_matrix(quick_document())
    assert list(quick.datasets) == ["ba-shapes"] and len(quick.seeds) == 2
    sweeps = [parse_matrix(d) for d in sweep_documents(quick_document(), {"node": (0.02, 0.2)})]
    epsilons = [s.trainings["adv-features"]["by_task"]["node"]["epsilon"] for s in sweeps]
    assert epsilons == [0.02, 0.2]
    assert "adversarial" in REPORTS.names()


def test_rows_follow_the_matrix_order():
    config = parse_matrix(adversarial_document())
    frame = pd.DataFrame({"dataset": ["benzene", "ba-shapes", "ba-shapes", "ba-shapes"],
                          "model": ["gcn", "gin", "gcn", "gcn"],
                          "training": ["standard", "standard", "adv-structure", "standard"],
                          "v": [1, 2, 3, 4]})
    assert in_matrix_order(frame, config)["v"].tolist() == [4, 3, 2, 1]


def test_attack_specs_follow_by_dataset_overrides():
    raw = tiny_document()
    raw["datasets"]["tree-cycles"] = {"depth": 3, "num_motifs": 4}
    raw["trainings"]["adv-features"]["by_dataset"] = {"tree-cycles": {"epsilon": 0.37}}
    specs = attack_specs(parse_matrix(raw))
    assert specs["tree-cycles"]["adv-features"][1]["epsilon"] == 0.37
    assert specs["ba-shapes"]["adv-features"][1]["epsilon"] == 0.1  # the node-level value
    cells, _ = expand(parse_matrix(raw))
    trained = {c.dataset: c.training_config["epsilon"] for c in cells
               if c.training == "adv-features"}
    assert trained == {"ba-shapes": 0.1, "tree-cycles": 0.37}  # the attack = the training's
    assert set(specs["ba-shapes"]) == {"adv-features", "adv-structure"}


def test_sweep_documents_cut_dataset_scoped_entries_to_their_datasets():
    raw = adversarial_document()
    docs = sweep_documents(raw, {"node": (0.03,), "graph": (0.02,)},
                           datasets=["ba-shapes", "ba-2motifs"], explainers=["random"], seeds=2)
    (doc,) = docs
    cells, skipped = expand(parse_matrix(doc))
    assert {(c.dataset, c.model) for c in cells} == {("ba-shapes", "gcn"), ("ba-shapes", "gin"),
                                                    ("ba-2motifs", "gin")}
    assert {(c.dataset, c.model) for c, _ in skipped} == {("ba-2motifs", "gcn")}
    assert {c.seed for c in cells} == {0, 1} and {c.training for c in cells} == {"adv-features"}
    by = {c.dataset: c.training_config for c in cells}
    assert by["ba-shapes"]["epsilon"] == 0.03 and by["ba-2motifs"]["epsilon"] == 0.02
    main = {c.dataset: c.training_config for c in expand(parse_matrix(raw))[0]
            if c.training == "adv-features"}
    for dataset in ("ba-shapes", "ba-2motifs"):  # only epsilon differs from the main matrix
        assert {k: v for k, v in by[dataset].items() if k != "epsilon"} == {
            k: v for k, v in main[dataset].items() if k != "epsilon"}
    only_gcn = {**raw, "models": {"gcn": raw["models"]["gcn"]}}
    (doc,) = sweep_documents(only_gcn, {"graph": (0.02,)}, datasets=["ba-2motifs"])
    assert doc["models"] == {}  # GCN is restricted to other datasets


# ----------------------------------------------------------------------------- end to end


def tiny_document() -> dict:
    raw = quick_document()
    raw["datasets"] = {"ba-shapes": {"num_base": 40, "num_motifs": 8}}
    raw["models"] = {"gcn": {"hidden": 8, "num_layers": 3}}
    raw["explainers"] = {"saliency": {}, "random": {}}
    raw["max_instances"] = 8
    raw["instances"] = "all"  # 15-epoch models predict few motif nodes right
    raw["metrics"] = {"topk_share": 0.1, "repr_draws": 3}
    for params in raw["trainings"].values():
        params["by_task"]["node"]["epochs"] = 15
    raw["trainings"]["adv-features"]["steps"] = 2
    raw["trainings"]["adv-structure"].update({"steps": 2, "samples": 2})
    return raw


def test_tiny_study_end_to_end_resumes_and_writes_its_files(tmp_path):
    raw = tiny_document()
    sweep = sweep_documents(raw, {"node": (0.3,)}, seeds=1)
    paths = Paths(tmp_path)
    study = run_study(raw, tmp_path / "store.sqlite", paths, sweep=sweep)
    assert (study.frame["status"] == "done").all(), study.frame["error"].tolist()
    assert len(study.frame) == 2 * 3 * 2
    # robustness measured for every model; adversarial models reproduce their stored number
    models = study.models.set_index(["training", "seed"])
    assert models[["clean", "robust@adv-features", "robust@adv-structure"]].notna().all().all()
    done = study.frame.drop_duplicates(["training", "seed"]).set_index(["training", "seed"])
    for mode in ("adv-features", "adv-structure"):
        for seed in (0, 1):
            assert models.loc[(mode, seed), f"robust@{mode}"] == pytest.approx(
                done.loc[(mode, seed), "robust_acc_test"])
    diffs = study.differences
    assert set(diffs["training"]) == {"adv-features", "adv-structure"}
    assert set(diffs["metric"]) == {"edge_auc", "repr_fidelity", "unfaithfulness", "fid_plus_acc"}
    assert (diffs["n"] == 2).all()
    assert sorted(study.sweep["epsilon"].unique()) == [0.0, 0.1, 0.3]
    # every epsilon averages the sweep's seeds only (the main study's 2nd seed is left out)
    assert study.sweep.groupby("epsilon")["seed"].apply(set).tolist() == [{0}] * 3

    files = write_study(study, tmp_path / "out")
    names = {f.name for f in files}
    assert {REPORT_FILE, DIFF_PLOT, ACC_PLOT, SWEEP_PLOT} <= names
    for f in files:
        if f.suffix == ".png":
            assert f.read_bytes()[:4] == b"\x89PNG"
    text = (tmp_path / "out" / REPORT_FILE).read_text()
    assert "## Findings" in text and "| ba-shapes | gcn | saliency |" in text
    assert "With 2 seeds t = 12.71" in text and "## Epsilon sweep" in text

    again = run_study(raw, tmp_path / "store.sqlite", paths)  # resumes: nothing reruns
    assert "12 already in the store" in again.run_text
    pd.testing.assert_frame_equal(again.differences, study.differences)
    read = run_study(raw, tmp_path / "store.sqlite", paths, run=False)  # analysis only
    assert "not run (read from the store): 12 of 12" in read.run_text
    assert "12 of 12 cells done." in read.markdown()
    pd.testing.assert_frame_equal(read.differences, study.differences)
    other = {**raw, "seeds": [7]}  # never run: nothing is trained or explained
    empty = run_study(other, tmp_path / "store.sqlite", paths, run=False)
    assert empty.frame.empty and empty.models.empty and "0 of 6" in empty.run_text
    assert "0 of 6 cells done (the others were not run" in empty.markdown()
