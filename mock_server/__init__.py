"""speaker-id-mock: an offline drop-in for a cloud Speaker Identification API that really listens."""

__version__ = "0.1.0"
