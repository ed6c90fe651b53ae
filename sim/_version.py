"""The package version, in a module of its own so every layer can read it without importing the
public API (``sim/__init__.py``) that sits above them."""

__version__ = "0.1.0"
