"""`bth view`'s server: the standard library's threaded HTTP server answering GET (and HEAD)
with pages built from the catalog on each request, so a reload shows new runs. It only reads:
any other method is answered 405, any path but the pages' 404."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from bathos.errors import BathosError, ConfigError

if TYPE_CHECKING:
    from bathos.catalog.catalog import Catalog
    from bathos.query import RunQuery

log = logging.getLogger("bathos.pages")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    """True when `host` names this machine only (127.0.0.1, ::1, localhost)."""
    return host in LOOPBACK or host.startswith("127.")


def page_server(catalog: Callable[[], Catalog], query: RunQuery, scope: str, *,
                host: str = "127.0.0.1", port: int = 0,
                remote: bool = False) -> ThreadingHTTPServer:
    """A server of the pages of the runs `query` picks (`scope` names them), bound to
    `host:port` (port 0: any free one), each request reading a fresh `catalog()`; call its
    `serve_forever()`. It serves this machine only unless `remote` allows another interface.
    ConfigError when the address is refused or cannot be bound."""
    if not (remote or is_loopback(host)):
        raise ConfigError(f"{host} is not a loopback address: the pages would be readable from "
                          "other machines", hint="give --host to serve on it all the same")
    handler = type("PageHandler", (_Handler,), {"catalog": staticmethod(catalog),
                                                 "query": query, "scope": scope,
                                                 "remote": remote})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror or exc}",
                          hint="give another --port, or --port 0 for any free one") from None
    server.daemon_threads = True
    return server


class _Handler(BaseHTTPRequestHandler):
    catalog: Callable[[], Catalog]
    query: RunQuery
    scope: str
    remote: bool
    server_version = "bathos"

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _refuse(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, "<p>bth view only reads the catalog</p>",
                   body=True, extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def _answer(self, *, body: bool) -> None:
        from html import escape

        if not (self.remote or self._named_locally()):
            self._send(HTTPStatus.FORBIDDEN, "<p>bth view answers only to this machine's names "
                       "(127.0.0.1, localhost)</p>", body=body)
            return
        try:
            status, page = self._page()
        except BathosError as exc:
            status, page = HTTPStatus.NOT_FOUND, f"<p>{escape(str(exc))}</p>"
        except Exception:
            log.exception("bth view could not build %s", self.path)
            status, page = HTTPStatus.INTERNAL_SERVER_ERROR, "<p>could not build this page</p>"
        self._send(status, page, body=body)

    def _named_locally(self) -> bool:
        """Whether the request names this machine (a page elsewhere whose name was made to
        point here, DNS rebinding, names its own)."""
        host = urlsplit(f"//{self.headers.get('Host', '')}").hostname or ""
        return is_loopback(host)

    def _page(self) -> tuple[HTTPStatus, str]:
        """The page the request names, its reads sharing one view of the catalog."""
        with self.catalog().reading() as catalog:
            return self._page_of(catalog)

    def _page_of(self, catalog: Catalog) -> tuple[HTTPStatus, str]:
        from bathos.pages import pages

        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        if not parts:
            return HTTPStatus.OK, pages.runs_page(catalog, self.query, scope=self.scope)
        if len(parts) == 2 and parts[0] == "run":
            return HTTPStatus.OK, pages.run_page(catalog, parts[1])
        if len(parts) == 2 and parts[0] == "campaign":
            return HTTPStatus.OK, pages.campaign_page(catalog, parts[1])
        if parts == ["compare"]:
            ids = [i for v in parse_qs(url.query).get("ids", []) for i in v.split(",") if i]
            return HTTPStatus.OK, pages.compare_page(catalog, ids)
        return HTTPStatus.NOT_FOUND, "<p>no such page</p>"

    def _send(self, status: HTTPStatus, page: str, *, body: bool,
              extra: dict[str, str] | None = None) -> None:
        data = page.encode("utf-8")
        self.send_response(status)
        for name, value in {"Content-Type": "text/html; charset=utf-8",
                            "Content-Length": str(len(data)), "Cache-Control": "no-store",
                            "X-Content-Type-Options": "nosniff", **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)
