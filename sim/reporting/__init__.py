"""Presenting results: result objects users hold, matplotlib figures, run reports."""
