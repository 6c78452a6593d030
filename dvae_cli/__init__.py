"""dvae: train, evaluate, inspect and compare disentangled variational autoencoders.

The command line (`dvae`) is a thin shell over this library:

- `dvae_cli.config`: run specs and the experiment catalogue,
- `dvae_cli.engine`: models, losses (`dvae_cli.losses.get_loss`), trainer, evaluation,
- `dvae_cli.data`: datasets,
- `dvae_cli.runs`: reading and writing run folders (no torch).
"""

__version__ = "0.1.0"
