"""The adversarial study (see its README)."""
