"""``dvae browse``: a Textual terminal UI over the results directories.

Import `dvae_cli.tui.app` before starting the app: textual-image asks the terminal
for its graphics support and cell size when it is imported, which it cannot do once
Textual owns the terminal. `dvae_cli.tui.data` holds the plain (Textual-free) code
that reads runs, figures and plot commands.
"""
