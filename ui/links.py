"""Links to the library's copy of a source, built in one place for every front-end.

The API and the CLI give absolute links (the server's `KB_BASE_URL`); the chat gives links
relative to the server, signed for a signed-in reader whose browser sends no API key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Links:
    base_url: str = ""
    sign: Callable[[str], str] | None = None

    def file(self, doc_id: str, page: int | None = None) -> str:
        """The source file, opened at the page where there is one."""
        url = f"{self.base_url.rstrip('/')}/api/documents/{quote(doc_id, safe='')}/file"
        if self.sign is not None:
            url += f"?token={self.sign(doc_id)}"
        return f"{url}#page={page}" if page else url
