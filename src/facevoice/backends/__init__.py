"""Score back-ends fitted on training identities (scikit-learn style: ``fit`` sets ``attr_``)."""

from facevoice.backends.cca import CCABaseline

__all__ = ["CCABaseline"]
