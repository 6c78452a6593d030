"""``python -m dvae_cli`` runs the command line."""

from dvae_cli.cli.app import main

main()
