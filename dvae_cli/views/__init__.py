"""What ``dvae train`` and ``dvae eval`` show, shared with a study cell's log: console views over the use cases.

- `dvae_cli.views.train`: the first line, the epoch lines, the summary (`train_with_view`);
- `dvae_cli.views.evaluate`: the tables, notes and progress of an evaluation (`EvaluationView`).

They print only to the console they are given; the use cases (`dvae_cli.workflows`) print
nothing. The live view of a terminal belongs to the command line (its `live` module).
"""
