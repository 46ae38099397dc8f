"""The learning experiments (REFERENCE.md E2): data, networks with explicit gradient estimators, training."""
