"""Errors written for the people who read them. Each front-end converts them in one place."""


class KBError(Exception):
    """Base class: the message is shown to the user as it is."""


class ModelMissing(KBError):
    """The bundled embedding model is not installed or its file is not the expected one."""


class DocumentNotFound(KBError):
    def __init__(self, doc_id: str) -> None:
        super().__init__(f"No document with id '{doc_id}' in the library.")
        self.doc_id = doc_id


class EmptyIndex(KBError):
    def __init__(self) -> None:
        super().__init__("The library is empty: run `kb ingest` first.")


class ParseError(KBError):
    """A file could not be read; the message names the file and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IndexBusy(KBError):
    """Another ingest run holds the write lock."""


class BriefNotFound(KBError):
    def __init__(self, what: str) -> None:
        super().__init__(f"No {what} of yours with that id.")


class QuoteNotFound(KBError):
    """A quote that is not verbatim in the stored page text."""


class BriefFull(KBError):
    """A brief at its excerpt limit."""


class StoreUnavailable(KBError):
    """The vector store (a Chroma server) is not answering; the next request retries."""
