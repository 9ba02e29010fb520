"""DC-AI-C12 image compression (recurrent encoder/binarizer/decoder): in progress, not registered yet."""
