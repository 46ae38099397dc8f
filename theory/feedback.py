"""How feedback is sampled: the case, its noise level, the leak and the noise correlation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.params import check_case, check_real
from theory.covariance import numeric_covariance


@dataclass(frozen=True)
class FeedbackModel:
    """case: noisy (f = fbar + eps), activation (f = fbar b / p), partial (f = fbar - alpha zeta).

    rho: strength of the leak that breaks condition B (0 keeps B).
    shared: one latent per state sample feeds all experts (correlated noise across experts);
    False is the authors' construction, independent across experts.
    """

    case: str = "noisy"
    sigma: float = 0.5
    p: float = 0.5
    tau: float = 0.5
    rho: float = 0.0
    shared: bool = False

    def __post_init__(self):
        check_case(self.case)
        check_real("sigma", self.sigma, lo=0.0)
        check_real("p", self.p, lo=0.0, hi=1.0, lo_open=True)
        check_real("tau", self.tau, lo=0.0)
        check_real("rho", self.rho)

    def sample_covariance(self, fbar: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Per-sample covariance Sigma_r (R, m, m) of the m experts' feedback in each state."""
        R, m = fbar.shape
        a = np.broadcast_to(alpha, (R, m))
        if self.shared:
            cov = numeric_covariance(self.case, True)
            out = cov(fbar[:, :, None], fbar[:, None, :], a[:, :, None], a[:, None, :],
                      self.sigma, self.p, self.tau)
            return np.broadcast_to(out, (R, m, m)).astype(np.float64)
        var = numeric_covariance(self.case, False)
        diag = np.broadcast_to(var(fbar, fbar, a, a, self.sigma, self.p, self.tau), (R, m))
        out = np.zeros((R, m, m))
        idx = np.arange(m)
        out[:, idx, idx] = diag
        return out
