"""The gnnexplainer study (see its README)."""
