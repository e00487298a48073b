"""Answers from a loaded bundle: candidate search and alignment, diversity, labelling, outliers
and the precomputed similar-videos table. Pure numpy/FAISS: no gRPC, no CLI, no pictures."""
