"""Research studies built on the suite: one package per study, with its grids and a README.

Installed beside the suite (``pip install -e studies``, done by the Makefile's set-up); the
reports register with ``suite report`` through the ``suite.reports`` entry-point group.
"""
