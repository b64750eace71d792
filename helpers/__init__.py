"""Helpers for the executable CNN book.

Import modules, not names: ``from helpers import conv`` and then
``conv.corr2d(X, K)``, so the reader always sees where a function lives.
Importing this package has no side effects (no printing, no seeding).
"""

__version__ = "0.1.0"
