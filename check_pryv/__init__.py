"""check_pryv: monitoring plugins for Pryv.io platforms."""

__version__ = "0.1.0"
