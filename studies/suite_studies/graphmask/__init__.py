"""The graphmask study (see its README)."""
