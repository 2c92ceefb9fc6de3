"""graff's version, in a module of its own so that any module can read it without importing
the package root (which re-exports :func:`graff.load_run`)."""

__version__ = "0.2.0"
