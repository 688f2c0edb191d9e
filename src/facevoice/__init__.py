"""facevoice: cross-modal face-voice person matching on one reproducible pipeline."""

__version__ = "0.1.0"
