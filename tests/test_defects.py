"""The faults a probe of about 90 bad inputs and attacks found (issue 30), each beside the
test that failed on the code as it then was and passes now.

:data:`DEFECTS` is the table; :data:`PENDING` lists the defects still open, with what is
left. The test below keeps the table honest: every named test exists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: defect -> the test that catches it (``file::function``, a parametrized case in brackets).
DEFECTS: dict[str, str] = {
    # data lost
    "export --out onto the store it reads replaced the store":
        "tests/store/test_merge_export.py::test_export_never_overwrites_the_store_it_reads_or_another_store",
    "check --write-reference overwrote any file, a store included":
        "tests/core/test_files.py::test_check_refuses_to_write_a_reference_over_a_store_or_an_existing_file",
    # code executed from data
    "a planted dataset cache ran code (torch.load weights_only=False)":
        "tests/datasets/test_cache_format.py::test_a_planted_payload_never_runs_and_the_entry_is_rebuilt",
    "the EWT parse cache was a pickle":
        "tests/datasets/test_cache_format.py::test_the_parsed_treebank_cache_is_json_and_round_trips",
    # processes and runs
    "kill -9 of the processes driver left its workers alive forever":
        "tests/execution/test_process_executor.py::test_workers_exit_when_the_driver_is_killed_and_its_run_is_then_interrupted",
    "SIGTERM was not handled (no cell kept as interrupted, no exit status)":
        "tests/execution/test_process_executor.py::test_ctrl_c_or_sigterm_of_the_driver_keeps_every_finished_cell[sigterm]",
    "a run left running by a killed process stayed running forever":
        "tests/store/test_store.py::test_runs_left_running_by_a_dead_process_of_this_host_are_marked_interrupted",
    "--executor ray --num-cpus 0 hung instead of being refused":
        "tests/cli/test_cli.py::test_ray_options_are_checked_before_a_cluster_starts",
    "two suite run processes on one store computed every cell twice":
        "tests/execution/test_runner.py::test_two_runs_on_one_store_compute_each_cell_once",
    "a Ray worker killed mid-cell recorded its cells as failed (they stay pending now)":
        "tests/execution/test_ray_executor.py::test_a_dead_worker_leaves_its_cell_pending_and_a_rerun_finishes_it",
    # bad values that passed
    "a submission with edge_auc inf, 7.5, negative scores, any status or a string seed was ranked":
        "tests/store/test_merge_export.py::test_a_submission_with_an_invalid_row_is_refused_naming_the_row",
    "a diverged training cached a model with NaN weights and its cells blamed the explainer":
        "tests/training/test_standard.py::test_a_diverged_training_fails_with_its_reason",
    "suite run exited 0 when every cell failed":
        "tests/cli/test_cli.py::test_run_writes_the_store_and_the_board",
    "submitted strings reached the Markdown board unescaped, and their provenance was mixed in":
        "tests/board/test_leaderboard.py::test_markdown_shows_submitted_strings_literally_and_keeps_their_provenance_apart",
    "a seed above 2^63 gave a traceback":
        "tests/cli/test_cli.py::test_a_seed_too_large_to_store_exits_2_before_anything_runs",
    "a matrix file that is not UTF-8 gave a traceback":
        "tests/cli/test_cli.py::test_a_matrix_file_that_is_not_utf8_exits_2_naming_the_byte",
    "out-of-range model and dataset values (hidden -4, num_layers 0, jk foo, dropout 2.0, "
    "noise_ratio -1) passed the parser and failed every cell":
        "tests/test_matrix.py::test_out_of_range_hyper_parameters_are_refused_when_the_matrix_is_parsed",
    "a config error echoed the input unbounded, line breaks included (found by Hypothesis)":
        "tests/test_properties.py::test_any_document_parses_or_is_refused_in_one_line",
    "SIGTERM while the command line started killed it with -15, no line (found by fault "
    "injection)":
        "tests/core/test_lifecycle.py::test_sigterm_while_the_command_line_starts_is_one_line_and_exit_130",
    "SIGTERM of a Ray run's driver aborted it (-6): ray.init replaced the handler (found by "
    "fault injection)":
        "tests/execution/test_ray_executor.py::test_a_driver_stopped_mid_run_loses_no_finished_cell[sigterm]",
}

#: Defects of issue 30 still open, and what is left.
PENDING: dict[str, str] = {
}


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_every_defect_names_a_test_that_exists(defect):
    file, _, name = DEFECTS[defect].partition("::")
    path = ROOT / file
    assert path.is_file(), f"{defect}: no test file {file}"
    assert name.split("[", 1)[0] in _functions(path), f"{defect}: no test {name} in {file}"
    assert defect not in PENDING
