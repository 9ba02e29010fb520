"""Analyses over session results: suite summaries, characterization, baselines against targets."""
