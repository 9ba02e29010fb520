"""Analyses over session results: suite summaries (and, later, characterization, variation, reports)."""
