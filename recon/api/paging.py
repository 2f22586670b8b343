"""Paging strategies as small objects: how to start, how to find the next page, when to stop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recon.api.client import ApiResponse, PartnerCenterClient
from recon.errors import UpstreamError

if TYPE_CHECKING:
    from recon.api.aclient import AsyncPartnerCenterClient

MAX_EMPTY_PAGES = 3


@dataclass(frozen=True)
class ResumePoint:
    """The request that fetches a unit's next page, with the loop guards' state (JSON-serialisable)."""

    uri: str
    headers: dict[str, str]
    page: int
    token_in: str | None = None
    empty_run: int = 0
    seen: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A plain dict for meta.loads.resume_point."""
        return {
            "uri": self.uri,
            "headers": self.headers,
            "page": self.page,
            "token_in": self.token_in,
            "empty_run": self.empty_run,
            "seen": list(self.seen),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResumePoint:
        """Rebuild from meta.loads.resume_point."""
        return cls(
            str(data["uri"]),
            {str(k): str(v) for k, v in (data.get("headers") or {}).items()},
            int(data["page"]),
            data.get("token_in"),
            int(data.get("empty_run", 0)),
            tuple(data.get("seen") or ()),
        )


@dataclass(frozen=True)
class Page:
    """One page of items with its context, so it can be landed, logged and replayed."""

    number: int
    items: list[dict[str, Any]]
    response: ApiResponse
    token_in: str | None = None
    token_out: str | None = None
    next: ResumePoint | None = None
    context: Mapping[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # the body as received when it is gzip JSON lines already (a v2 blob): landed as is


def _next_link(data: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
    links = data.get("links") or {}
    nxt = links.get("next") if isinstance(links, Mapping) else None
    if not isinstance(nxt, Mapping) or not nxt.get("uri"):
        return None, {}
    headers = {str(h.get("key")): str(h.get("value")) for h in nxt.get("headers") or [] if isinstance(h, Mapping)}
    return str(nxt["uri"]), headers


@dataclass
class _SeekCursor:
    """Where seek paging stands: the next page's number, the token that asked for it, the loop guards' state."""

    number: int = 1
    token_in: str | None = None
    empty_run: int = 0
    seen: set[str] = field(default_factory=set)

    @classmethod
    def at(cls, resume: ResumePoint | None) -> _SeekCursor:
        """A cursor at the first page, or where `resume` stopped."""
        if resume is None:
            return cls()
        return cls(resume.page, resume.token_in, resume.empty_run, set(resume.seen))

    def page(self, response: ApiResponse) -> Page:
        """Check one answer and make it the next Page (with the request for the page after, unless it is the last)."""
        number, data = self.number, response.data
        if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
            raise UpstreamError(
                f"GET {response.url}: page {number} has no 'items' list (MS-RequestId {response.request_id})"
            )
        link, headers = _next_link(data)
        token_out = headers.get("MS-ContinuationToken") or data.get("continuationToken") or None
        if link is None:
            return Page(number, data["items"], response, self.token_in, str(token_out) if token_out else None)
        if not token_out:
            raise UpstreamError(f"GET {response.url}: page {number} has a next link but no continuation token")
        empty = not data["items"]
        # An empty page may point at the position it was asked for; a page with items must move on.
        if (token_out == self.token_in and not empty) or (token_out != self.token_in and token_out in self.seen):
            raise UpstreamError(
                f"GET {response.url}: page {number} repeats a continuation token (pagination loop); stopped"
            )
        self.seen.add(str(token_out))
        self.empty_run = self.empty_run + 1 if empty else 0
        if self.empty_run > MAX_EMPTY_PAGES:
            raise UpstreamError(
                f"GET {response.url}: more than {MAX_EMPTY_PAGES} empty pages in a row that still have a next "
                "link; stopped"
            )
        headers["MS-ContinuationToken"] = str(token_out)
        nxt = ResumePoint(link, headers, number + 1, str(token_out), self.empty_run, tuple(sorted(self.seen)))
        page = Page(number, data["items"], response, self.token_in, str(token_out), nxt)
        self.token_in, self.number = str(token_out), number + 1
        return page


@dataclass
class SeekPaginator:
    """Continuation-token paging: token in `MS-ContinuationToken`, `seekOperation=Next` in the link.

    Raises on a repeated token and on more than three empty pages in a row that still have a next link.
    A page is yielded only after those checks, with the request for the next page (`Page.next`), so a
    stopped load can continue from its last good page. `pages` runs on the synchronous client, `apages`
    on the asynchronous one.
    """

    path: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def _first(self, resume: ResumePoint | None) -> tuple[str, Mapping[str, Any] | None, dict[str, str] | None]:
        """The first request: (uri, params, headers)."""
        return (self.path, self.params, None) if resume is None else (resume.uri, None, resume.headers)

    def pages(self, client: PartnerCenterClient, resume: ResumePoint | None = None) -> Iterator[Page]:
        """Yield pages until the source has no next link (from `resume` when given)."""
        cursor, (uri, params, headers) = _SeekCursor.at(resume), self._first(resume)
        while True:
            page = cursor.page(client.get_json(uri, params=params, headers=headers))
            yield page
            if page.next is None:
                return
            uri, params, headers = page.next.uri, None, page.next.headers

    async def apages(
        self, client: AsyncPartnerCenterClient, resume: ResumePoint | None = None, *, shallow: bool = False
    ) -> AsyncIterator[Page]:
        """`pages` on the asynchronous client (`shallow`: the pages' items are left unparsed, `msgspec.Raw`)."""
        cursor, (uri, params, headers) = _SeekCursor.at(resume), self._first(resume)
        while True:
            page = cursor.page(await client.get_json(uri, params=params, headers=headers, shallow=shallow))
            yield page
            if page.next is None:
                return
            uri, params, headers = page.next.uri, None, page.next.headers


@dataclass
class OffsetPaginator:
    """Offset paging (`size`/`offset`, `links.next`), used by the invoice collection."""

    path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    max_pages: int = 10_000

    def pages(self, client: PartnerCenterClient, resume: ResumePoint | None = None) -> Iterator[Page]:
        """Yield pages following `links.next` until there is none (from `resume` when given)."""
        if resume is None:
            response = client.get_json(self.path, params=self.params)
            first, seen = 1, set[str]()
        else:
            response = client.get_json(resume.uri, headers=resume.headers)
            first, seen = resume.page, set(resume.seen)
        for number in range(first, self.max_pages + 1):
            data = response.data
            if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
                raise UpstreamError(f"GET {response.url}: page {number} has no 'items' list")
            link, headers = _next_link(data)
            if link is None:
                yield Page(number, data["items"], response)
                return
            if link in seen:
                raise UpstreamError(f"GET {response.url}: next link repeats ({link}); stopped")
            seen.add(link)
            yield Page(number, data["items"], response, next=ResumePoint(link, headers, number + 1, seen=tuple(seen)))
            response = client.get_json(link, headers=headers)
        raise UpstreamError(f"GET {self.path}: more than {self.max_pages} pages; stopped")
