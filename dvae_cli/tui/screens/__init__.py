"""The screens of ``dvae browse``: the run browser, compare mode and dialogs."""
