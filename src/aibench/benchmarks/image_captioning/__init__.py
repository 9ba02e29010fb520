"""DC-AI-C4: in progress, not registered yet (aibench list shows it as not runnable)."""
