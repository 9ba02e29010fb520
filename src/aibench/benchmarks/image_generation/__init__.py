"""DC-AI-C2 image generation (WGAN on LSUN bedrooms): in progress, not registered yet."""
