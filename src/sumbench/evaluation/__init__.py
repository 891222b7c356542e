"""Evaluation of a trained model: generation (beam search, never sampling) and ROUGE on Korean morphemes."""
