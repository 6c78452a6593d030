"""Disentanglement metrics: pure functions of representations and ground-truth factors."""
