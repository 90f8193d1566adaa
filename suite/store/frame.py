"""The cells frame (``ResultsStore.cells_frame()``, one row per cell): its key and statuses."""

#: A cell's identity on the board (seeds are aggregated).
KEY: tuple[str, ...] = ("dataset", "model", "training", "explainer")

#: Columns the cells frame must have.
REQUIRED_COLUMNS: tuple[str, ...] = (*KEY, "status", "seed")

#: Statuses of the cells frame.
DONE, FAILED, SKIPPED = "done", "failed", "skipped"
