"""`suite validate-plugin SPEC`: the explainer contract."""

from __future__ import annotations

import argparse
from typing import Any

from suite.cli.common import (
    EXIT_OK,
    CliError,
    add_threads_argument,
    load_plugin_specs,
    set_threads,
)
from suite.plugins.contract import contract_cases, refusal, validate_explainer

VALIDATE_PLUGIN_EXAMPLES = """\
examples:
  suite validate-plugin my_pkg.explainers:MyExplainer
  suite validate-plugin tests/plugin_pkg/suite_toy_plugin/__init__.py:InverseDegreeExplainer
  suite validate-plugin my_pkg --levels node"""


def _cmd_validate_plugin(args: argparse.Namespace) -> int:
    set_threads(args.threads)

    names: list[str] = []
    for loaded in load_plugin_specs(args.spec):
        if not loaded.explainers:
            raise CliError(f"plugin {loaded.spec}: module {loaded.module} registers no explainer "
                           "(name its class: module:Class)")
        names += [n for n in loaded.explainers if n not in names]
    cases = contract_cases(seed=args.seed, levels=args.levels)
    refused = []
    for name in names:
        results = validate_explainer(name, cases)
        for r in results:
            print(f"{name:24s} {r.level:6s} {r.check:18s} {r.status}"
                  + (f" ({r.message})" if r.status == "skipped" else ""))
        message = refusal(results)
        if message is not None:
            refused.append(f"{name}: {message}")
    if refused:
        raise CliError("plugin refused by the explainer contract: " + "; ".join(refused))
    print(f"plugin accepted: {', '.join(names)} passed the explainer contract")
    return EXIT_OK


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "validate-plugin", help="run the explainer contract checks on a plug-in explainer",
        description="Load plug-in explainer(s) and run the contract every built-in explainer "
                    "passes (suite/plugins/contract.py): metadata, shapes, finite scores, ranges, "
                    "determinism under a seed, model unchanged, no leftover hooks, errors of "
                    "the model propagated without leftover state; on small trained node- and "
                    "graph-level cases. A failing check refuses the plug-in (exit 2) with its "
                    "message.", epilog=VALIDATE_PLUGIN_EXAMPLES, formatter_class=fmt)
    p.add_argument("spec", nargs="+", metavar="SPEC",
                   help="module, module:Class, file.py or file.py:Class")
    p.add_argument("--levels", nargs="+", default=["node", "graph"], choices=("node", "graph"),
                   help="task levels to check (default: both)")
    p.add_argument("--seed", type=int, default=0, help="seed of the cases (default 0)")
    add_threads_argument(p)
    p.set_defaults(handler=_cmd_validate_plugin)
