"""The chemistry study (see its README)."""
