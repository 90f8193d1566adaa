"""``python -m suite`` runs the command-line interface."""

from suite.cli import main

raise SystemExit(main())
