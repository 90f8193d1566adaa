"""Robustness only: clean and attacked accuracy of every training mode, no explainers.

``python -m suite_studies.adversarial.robustness_check run`` trains, for each (dataset, model) pair and seed,
one model per training mode of a matrix (``standard`` and the adversarial modes, each
with the matrix's resolved settings) and measures its accuracy on the validation and test
splits, clean and under every adversarial mode's own attack, plus a stronger version of
each attack (more PGD steps; structure: also more samples). One JSON line per model goes
to ``--out``; a rerun skips the models already there. ``python -m suite_studies.adversarial.robustness_check
table FILE [FILE ...] --split test`` prints mean +- sd per mode and the paired, seed-matched
differences (mode - standard) with 95% t intervals over the rows of all files
(:func:`suite.core.stats.paired_difference`).

Row keys: ``dataset, model, seed, training, train_s`` (wall seconds), ``best_epoch`` and,
per split ``S`` in (val, test), ``clean_S`` and ``{mode}_S`` / ``{mode}_strong_S``
(accuracies in [0, 1]).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from suite.core.paths import Paths
from suite.core.seeding import seed_everything
from suite.core.stats import PairedDifference, paired_difference
from suite.datasets import load_dataset
from suite.matrix import MatrixConfig, load_matrix, plugins, resolved_parameters
from suite.models import build_model
from suite.training import build_training
from suite.training.attacks import robust_accuracy

#: The stronger attacks, as overrides of each mode's own attack config.
STRONG_ATTACK = {"adv-features": {"steps": 20}, "adv-structure": {"steps": 20, "samples": 20}}
SPLITS = ("val", "test")
BASELINE = "standard"


def adversarial_modes(config: MatrixConfig) -> list[str]:
    """The matrix's training modes that train against an attack (they have ``attack_spec``)."""
    return [name for name in config.trainings if name != BASELINE
            and hasattr(plugins().trainings.get(name), "attack_spec")]


def measure(config: MatrixConfig, pairs: Sequence[tuple[str, str]], seeds: Sequence[int],
            cache_dir: str | Path | None = None, done: set[tuple] = frozenset(),
            train: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    """One row (module docstring) per (pair, seed, training mode) not in ``done``.

    ``train`` limits the adversarial modes that are trained (default: all of the matrix's);
    the standard baseline is always trained, and every model is still attacked with every
    adversarial mode's attack, so all rows keep the same columns.
    """
    params, reg = resolved_parameters(config), plugins()
    modes = adversarial_modes(config)
    if BASELINE not in config.trainings:
        raise ValueError(f"matrix {config.name!r} has no {BASELINE!r} training to compare with")
    unknown = [m for m in (train or ()) if m not in modes]
    if unknown:
        raise ValueError(f"train: {', '.join(map(repr, unknown))} not among matrix "
                         f"{config.name!r}'s adversarial modes ({', '.join(modes) or 'none'})")
    trained = [BASELINE, *(modes if train is None else [m for m in modes if m in train])]
    for dataset_name, model_name in pairs:
        if dataset_name not in config.datasets or model_name not in config.models:
            raise ValueError(f"pair {dataset_name}/{model_name}: not in matrix {config.name!r} "
                             f"(datasets: {', '.join(config.datasets)}; "
                             f"models: {', '.join(config.models)})")
        level = reg.datasets.entry(dataset_name).metadata["info"].task.value
        for seed in seeds:
            wanted = [t for t in trained if (dataset_name, model_name, seed, t) not in done]
            if not wanted:
                continue
            dataset = load_dataset(dataset_name, seed=seed, cache_dir=cache_dir or Paths.from_env().dataset_cache,
                                   **config.datasets[dataset_name])
            attacks = {m: build_training(m, **params.training(m, dataset_name, level)).attack_spec()
                       for m in modes}
            for training in wanted:
                seed_everything(seed)
                model = build_model(model_name, dataset, **params.model(model_name, dataset_name, level))
                start = time.perf_counter()
                result = build_training(training, **params.training(training, dataset_name, level)
                                        ).train(model, dataset, seed)
                row: dict[str, Any] = dict(dataset=dataset_name, model=model_name, seed=seed,
                                           training=training, train_s=time.perf_counter() - start,
                                           best_epoch=result.best_epoch)
                for split in SPLITS:
                    row[f"clean_{split}"] = result.accuracy[split]
                    for mode, (attack, attack_config) in attacks.items():
                        row[f"{mode}_{split}"] = robust_accuracy(model, dataset, split, attack,
                                                                 attack_config, seed)
                        stronger = {**attack_config, **STRONG_ATTACK.get(mode, {})}
                        row[f"{mode}_strong_{split}"] = robust_accuracy(model, dataset, split, attack,
                                                                        stronger, seed)
                yield row


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file (empty when it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rows_by_cell(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str], dict[int, dict]]:
    """``{(dataset, model, training): {seed: row}}``; a later row for the same seed wins."""
    by: dict[tuple[str, str, str], dict[int, dict]] = defaultdict(dict)
    for row in rows:
        by[(row["dataset"], row["model"], row["training"])][row["seed"]] = row
    return by


def common_seeds(by: dict[tuple[str, str, str], dict[int, dict]], dataset: str, model: str,
                 training: str) -> list[int]:
    """The seeds that both ``training`` and the standard baseline have rows for, sorted."""
    return sorted(set(by.get((dataset, model, training), {}))
                  & set(by.get((dataset, model, BASELINE), {})))


def paired_to_baseline(by: dict[tuple[str, str, str], dict[int, dict]], dataset: str, model: str,
                       training: str, key: str) -> PairedDifference | None:
    """``training - standard`` of row field ``key`` (e.g. ``clean_test``), paired over the
    seeds both have (in seed order); None when they share no seed."""
    seeds = common_seeds(by, dataset, model, training)
    if not seeds:
        return None
    treated, base = by[(dataset, model, training)], by[(dataset, model, BASELINE)]
    return paired_difference([treated[s][key] for s in seeds], [base[s][key] for s in seeds])


def tables(rows: Sequence[dict[str, Any]], split: str = "test") -> str:
    """Markdown: mean +- sd per (dataset, model, training), then paired differences."""
    columns = ["clean"] + sorted({k[:-len(split) - 1] for r in rows for k in r
                                  if k.endswith(f"_{split}") and k != f"clean_{split}"})
    by = rows_by_cell(rows)
    pairs = list(dict.fromkeys((r["dataset"], r["model"]) for r in rows))
    trainings = list(dict.fromkeys(r["training"] for r in rows))
    head = "| dataset | model | training | n | " + " | ".join(f"{c} acc" for c in columns) + " | train s |"
    lines = [head, "|---" * (len(columns) + 5) + "|"]
    for dataset, model in pairs:
        for training in trainings:
            seeds = by.get((dataset, model, training))
            if not seeds:
                continue
            cells = []
            for column in columns:
                values = [r[f"{column}_{split}"] for r in seeds.values()]
                sd = statistics.stdev(values) if len(values) > 1 else 0.0
                cells.append(f"{statistics.mean(values):.3f} +- {sd:.3f}")
            train_s = statistics.mean(r["train_s"] for r in seeds.values())
            lines.append(f"| {dataset} | {model} | {training} | {len(seeds)} | "
                         + " | ".join(cells) + f" | {train_s:.0f} |")
    lines += ["", "| dataset | model | mode - standard | " + " | ".join(columns) + " |",
              "|---" * (len(columns) + 3) + "|"]
    for dataset, model in pairs:
        for training in trainings:
            if training == BASELINE:
                continue
            seeds = common_seeds(by, dataset, model, training)
            if not seeds:
                continue
            cells = [paired_to_baseline(by, dataset, model, training, f"{c}_{split}").text()
                     for c in columns]
            lines.append(f"| {dataset} | {model} | {training} (n={len(seeds)}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _pairs(text: str) -> list[tuple[str, str]]:
    out = []
    for item in text.split(","):
        dataset, sep, model = item.strip().partition("/")
        if not sep or not dataset or not model:
            raise argparse.ArgumentTypeError(f"--pairs: expected DATASET/MODEL items (got {item!r})")
        out.append((dataset, model))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suite_studies.adversarial.robustness_check", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train and attack; append JSON lines to --out (resumes)")
    run.add_argument("--matrix", default="adversarial", help="preset name or YAML path")
    run.add_argument("--pairs", type=_pairs, required=True, help="DATASET/MODEL,DATASET/MODEL,...")
    run.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    run.add_argument("--out", required=True, help="JSON-lines file")
    run.add_argument("--train", nargs="+", metavar="MODE",
                     help="adversarial modes to train (default: all of the matrix's; the "
                          "standard model is always trained, every model meets every attack)")
    run.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    table = sub.add_parser("table", help="Markdown tables from JSON-lines files (rows pooled)")
    table.add_argument("files", nargs="+", metavar="FILE")
    table.add_argument("--split", choices=SPLITS, default="test")
    args = parser.parse_args(argv)
    if args.command == "table":
        missing = [path for path in args.files if not Path(path).is_file()]
        if missing:
            parser.error(f"table: no such file: {', '.join(missing)}")
        rows = [row for path in args.files for row in read_rows(path)]
        seen = [(r["dataset"], r["model"], r["seed"], r["training"]) for r in rows]
        if len(set(seen)) != len(seen):
            parser.error("table: the files share (dataset, model, seed, training) rows")
        print(tables(rows, args.split), end="")
        return 0
    torch.set_num_threads(args.threads)
    done = {(r["dataset"], r["model"], r["seed"], r["training"]) for r in read_rows(args.out)}
    with open(args.out, "a") as out:
        for row in measure(load_matrix(args.matrix), args.pairs, args.seeds, done=done,
                           train=args.train):
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(f"{row['dataset']}/{row['model']} seed {row['seed']} {row['training']}: "
                  f"clean test {row['clean_test']:.3f} ({row['train_s']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
