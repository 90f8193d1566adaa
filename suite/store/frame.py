"""The cells frame (``ResultsStore.cells_frame()``, one row per cell): its key, statuses and
timing columns."""

#: A cell's identity on the board (seeds are aggregated).
KEY: tuple[str, ...] = ("dataset", "model", "training", "explainer")

#: Columns the cells frame must have.
REQUIRED_COLUMNS: tuple[str, ...] = (*KEY, "status", "seed")

#: Statuses of the cells frame.
DONE, FAILED, SKIPPED = "done", "failed", "skipped"

#: Score columns that measure time (they differ between otherwise identical runs).
TIMING_COLUMNS: tuple[str, ...] = ("explanations_per_s", "explain_seconds", "fit_seconds",
                                   "train_items_per_s", "train_seconds")
