"""DC-AI-C17: in progress, not registered yet (aibench list shows it as not runnable)."""
