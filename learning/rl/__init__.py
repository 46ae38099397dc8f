"""E3, POPGym's labyrinths: environments, REINFORCE, models, one training run, BPTT mixed with SG,
sweeps, claims, the paper-scale blocks, benchmark."""
