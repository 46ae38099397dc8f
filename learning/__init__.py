"""The learning experiments: E2, the bandit (bandit/), and E3, the labyrinths (rl/), on the networks both
use (nets/); the paper-scale runs judged from what is stored (paper.py, stored.py)."""
