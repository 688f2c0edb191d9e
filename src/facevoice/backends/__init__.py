"""Score back-ends fitted on training identities (scikit-learn style: ``fit`` sets ``attr_``).

* :class:`CCABaseline` (``cca``): PCA + CCA, cosine scores.
* :class:`CrossModalPLDA` (``plda`` / ``xplda``): the cross-modal two-covariance model, log-likelihood
  ratio scores, settings chosen on validation identities by :func:`select_plda`.
* :mod:`facevoice.backends.scores`: the scoring interface (:class:`ScoreBackend`) with cosine and the
  Gaussian LLR of canonical coordinates.
"""

from facevoice.backends.cca import CCABaseline
from facevoice.backends.plda import CrossModalPLDA, select_plda
from facevoice.backends.scores import COSINE, CosineScore, GaussianLLR, ScoreBackend

__all__ = ["COSINE", "CCABaseline", "CosineScore", "CrossModalPLDA", "GaussianLLR", "ScoreBackend", "select_plda"]
