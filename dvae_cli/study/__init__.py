"""Studies: sweeps over models, hyper-parameters and seeds (`dvae study`)."""
