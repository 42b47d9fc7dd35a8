"""``quanos codesign``: per-layer bits and the accelerator chosen together (stage 1, predicted, on
every hardware point x energy budget), then only the finalists trained and attacked (stage 2).
See run.py for the steps."""

from .config import CodesignConfig
from .run import CodesignResult, codesign, plan

__all__ = ["CodesignConfig", "CodesignResult", "codesign", "plan"]
