"""Analysis of experiment results: target statistics, comparisons (and, later, sensitivity)."""
