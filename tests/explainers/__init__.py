"""Tests of suite.explainers (mirrors the package)."""
