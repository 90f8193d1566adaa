"""The nlp study (see its README)."""
