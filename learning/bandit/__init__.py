"""E2, the noisy-digit contextual bandit: data, one training run, probes, sweeps, claims, the paper-scale blocks, benchmark."""
