"""Datasets: torch-free metadata in `catalog`, one loader module per dataset."""
