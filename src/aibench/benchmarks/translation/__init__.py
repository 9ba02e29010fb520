"""DC-AI-C3: in progress, not registered yet (aibench list shows it as not runnable)."""
