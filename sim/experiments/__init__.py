"""Running experiments: many replications of one or more scenarios, on a chosen backend, streamed
to a run directory as they finish."""
