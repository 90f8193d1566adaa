"""`suite select-models SPEC`: the board's models, chosen on task accuracy."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from suite.cli.common import (
    EXIT_OK,
    CliError,
    add_root_argument,
    add_threads_argument,
    set_threads,
)
from suite.core.paths import Paths
from suite.execution.model_selection import (
    choose,
    load_spec,
    restrict_spec,
    run_selection,
    write_outputs,
)

SELECT_MODELS_EXAMPLES = """\
examples:
  suite select-models suite/presets/models/default.yaml --out results/model-selection
  suite select-models suite/presets/models/default.yaml --datasets ba-community --families gin

Trains every candidate on every dataset and seed (the model cache is reused), chooses per
dataset and family the candidate with the best mean of the spec's criterion (validation
accuracy, or on node tasks the accuracy on further graphs of the generator) and writes
selection.md (every trial, the choices, each model against its floor) and models.yaml."""


def _cmd_select_models(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    paths = Paths.from_env(args.root)
    try:
        spec = restrict_spec(load_spec(args.spec), args.datasets, args.families)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    out = Path(args.out) if args.out else paths.results / "model-selection"
    trials = run_selection(spec, paths, progress=lambda line: print(line, flush=True))
    choices = choose(spec, trials)
    for path in write_outputs(spec, trials, choices, out):
        print(f"written {path}")
    return EXIT_OK


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "select-models", help="choose each dataset's models on task accuracy alone",
        description="Train the candidate models of a selection spec on every dataset and "
                    "seed and choose, per dataset and model family, the best mean of the "
                    "spec's task criterion; no explanation score is read.",
        epilog=SELECT_MODELS_EXAMPLES, formatter_class=fmt)
    p.add_argument("spec", metavar="SPEC", help="a selection spec (YAML)")
    p.add_argument("--out", metavar="DIR",
                   help="output directory (default: ROOT/results/model-selection)")
    p.add_argument("--datasets", nargs="+", metavar="NAME",
                   help="only these of the spec's datasets (to rerun part of a selection)")
    p.add_argument("--families", nargs="+", metavar="NAME",
                   help="only these of the spec's model families")
    add_root_argument(p)
    add_threads_argument(p)
    p.set_defaults(handler=_cmd_select_models)
