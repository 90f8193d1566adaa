"""`suite new-explainer NAME`: scaffold a plug-in package for a new explainer."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from suite.cli.common import EXIT_OK, PROG
from suite.explainers import EXPLAINERS
from suite.plugins.scaffold import scaffold_explainer

NEW_EXPLAINER_EXAMPLES = """\
examples:
  suite new-explainer my-explainer                 writes ./suite-my-explainer/
  suite new-explainer my-explainer --out plugins   writes plugins/suite-my-explainer/"""


def _cmd_new_explainer(args: argparse.Namespace) -> int:
    names, files = scaffold_explainer(args.name, Path(args.out),
                                      known=frozenset(EXPLAINERS.names()))
    root = Path(args.out) / names.package
    print(f"wrote {len(files)} files under {root}:")
    for path in files:
        print(f"  {path}")
    print("next:\n"
          f"  {PROG} validate-plugin {names.spec(Path(args.out))}\n"
          f"  pip install -e {root}   (registers '{names.name}' for matrices and `suite list`)")
    return EXIT_OK


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "new-explainer", help="scaffold a plug-in package for a new explainer",
        description="Write a plug-in package for explainer NAME: pyproject.toml with the "
                    "suite.explainers entry point, a working explainer to replace with your "
                    "method, and its contract test. It passes `suite validate-plugin` as "
                    "written; nothing existing is overwritten.",
        epilog=NEW_EXPLAINER_EXAMPLES, formatter_class=fmt)
    p.add_argument("name", metavar="NAME", help="the explainer's name, e.g. my-explainer")
    p.add_argument("--out", default=".", metavar="DIR",
                   help="folder to write suite-NAME/ into (default: the current one)")
    p.set_defaults(handler=_cmd_new_explainer)
