"""Storage: the Chroma memory store, the shared sentence-transformers encoder, the step cache."""
