"""DC-AI-C15 spatial transformer (STN on MNIST): in progress, not registered yet."""
