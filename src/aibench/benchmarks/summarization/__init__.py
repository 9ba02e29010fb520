"""DC-AI-C14: in progress, not registered yet (aibench list shows it as not runnable)."""
