"""The widgets of ``dvae browse``, one per module, each named for what it shows."""
