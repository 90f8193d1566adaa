"""Tests of suite.models (mirrors the package)."""
