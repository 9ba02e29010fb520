"""DC-AI-C17 neural architecture search: ENAS (Pham et al. 2018) recurrent-cell search on Penn Treebank.

Not registered yet: the benchmark class lives in `benchmark.py` (import it here, as face_recognition_3d does, once
the registry-parametrized tests pass filtered to C17).
"""
