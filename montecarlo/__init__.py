"""Monte Carlo simulation of the estimators that theory/ describes, and the checks built on it.

expert: the jitted engine (BP, SG, mixtures, adaptive weight); rng: its random numbers;
stats: running moments and intervals; sweep: grids of configurations; pooling: T9;
checks: T1-T9 by simulation; reference: the numpy baseline; bench: timings.
"""
