"""The bottom layer: pieces every other layer may use and that use nothing of the suite."""
