"""Errors of the MRS modules, importable without the numerical libraries."""


class MRSFormatError(ValueError):
    """The file cannot be used; the message says why, for the person who uploaded it."""
