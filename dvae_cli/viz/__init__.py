"""Figures: image grids and matplotlib plots written into run folders."""
