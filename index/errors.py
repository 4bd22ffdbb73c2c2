"""Domain errors. Each carries a message fit for a person, saying what to do next.

Only the edges (CLI, Telegram handlers) turn these into output; nothing inside prints.
"""


class ZonebotError(Exception):
    """Base class: `str(error)` is the user-facing message."""


class LoadError(ZonebotError):
    """A corpus file could not be read; the build skips it and lists it in the summary."""


class UnsupportedFile(LoadError):
    pass


class CorruptFile(LoadError):
    pass


class EmptyFile(LoadError):
    pass


class EmptyCorpus(ZonebotError):
    pass


class IndexNotFound(ZonebotError):
    pass


class IndexMismatch(ZonebotError):
    """The index was built with another model, dimension or format."""


class IndexCorrupt(ZonebotError):
    pass


class BadQuery(ZonebotError):
    """An empty, unusable or absurdly long query."""


class ModelUnavailable(ZonebotError):
    """The configured embedding model cannot be loaded (offline, missing files)."""


class DiskFull(ZonebotError):
    """The disk holding the index is full; the previous index stays live."""
