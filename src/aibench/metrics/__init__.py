"""Quality metrics, as pure functions on tensors or arrays."""
