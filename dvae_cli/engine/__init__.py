"""The training engine: data -> model -> loss -> trainer -> run folder. Imports torch."""
