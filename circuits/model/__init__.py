"""The models: the TransformerLens bridge builder, the one forward (FastTransformer) with its seams, clamps, local HF folders."""
