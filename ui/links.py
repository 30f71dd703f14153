"""Links to the library's copy of a source, built in one place for every front-end.

The API and the CLI give absolute links (the server's `KB_BASE_URL`); the chat gives links
relative to the server, signed for a signed-in reader whose browser sends no API key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode


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

    def view(
        self,
        doc_id: str,
        page: int | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> str:
        """The evidence viewer: the page with the stretch start-end of its cleaned text
        highlighted, scrolled to it."""
        url = f"{self.base_url.rstrip('/')}/api/documents/{quote(doc_id, safe='')}/view"
        params: dict[str, str | int] = {}
        if page:
            params["page"] = page
        if start is not None and end is not None and end > start:
            params.update(start=start, end=end)
        if self.sign is not None:
            params["token"] = self.sign(doc_id)
        query = f"?{urlencode(params)}" if params else ""
        return url + query + ("#quote" if "start" in params else "")
