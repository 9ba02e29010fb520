"""DC-AI-C10 recommendation: Neural Collaborative Filtering (NeuMF = GMF + MLP) on MovieLens."""
