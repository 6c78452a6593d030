"""dvae's version (`dvae --version`, ``specs.json``'s ``dvae_version``, ``export.json``): standard library only."""

__version__ = "0.1.0"
