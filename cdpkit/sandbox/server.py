"""`cdpkit sandbox`: local fake destination APIs on loopback, one port, a prefix per fake.

    with Sandbox(port=0) as sandbox:          # port 0: any free port
        url = sandbox.url("webhook")           # http://127.0.0.1:PORT/webhook
        ...

`GET /` lists the fakes; `/_sandbox/<fake>/...` is each fake's control API; `POST
/_sandbox/reset` resets them all.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from cdpkit.sandbox.fake import Fake, Request, Response, error
from cdpkit.sandbox.registry import default_fakes

HOST = "127.0.0.1"
MAX_READ_BYTES = 64 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fakes: dict[str, Fake]

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that vanished mid-request (killed, timed out) is normal here, not news."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm the body would wait for
    # the client's delayed ACK of the headers (40 ms on Linux) on every keep-alive request.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet by default
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch()

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch()

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch()

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        parts = [p for p in split.path.split("/") if p]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if 0 < length <= MAX_READ_BYTES else b""
        if length > MAX_READ_BYTES:
            self.close_connection = True
        headers = {k.lower(): v for k, v in self.headers.items()}
        query = dict(parse_qsl(split.query))
        try:
            response = self._route(parts, query, headers, body)
        except Exception as exc:  # a fake bug shows as a 500, as a real server's would
            response = error(500, f"sandbox error: {type(exc).__name__}: {exc}")
        self._send(response)

    def _route(
        self, parts: list[str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        fakes = self.server.fakes
        if not parts:
            return Response(200, {"fakes": {n: f"/{n}" for n in fakes}})
        if parts[0] == "_sandbox":
            if parts[1:] == ["reset"]:
                for fake in fakes.values():
                    fake.reset()
                return Response(200, {"ok": True})
            if len(parts) >= 2 and parts[1] in fakes:
                rest = "/" + "/".join(parts[2:])
                return fakes[parts[1]].control(Request(self.command, rest, query, headers, body))
            return error(404, "unknown sandbox control path")
        fake = fakes.get(parts[0])
        if fake is None:
            return error(404, f"no fake at /{parts[0]} (known: {', '.join(sorted(fakes))})")
        rest = "/" + "/".join(parts[1:])
        return fake.handle(Request(self.command, rest, query, headers, body))

    def _send(self, response: Response) -> None:
        payload, content_type = response.encode()
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                if name.lower() not in ("content-type", "content-length"):
                    self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout fired)


class Sandbox:
    """The fakes behind one loopback HTTP server."""

    def __init__(
        self, port: int = 0, fakes: Iterable[Fake] | None = None, host: str = HOST
    ) -> None:
        self.fakes = {f.name: f for f in (fakes if fakes is not None else default_fakes())}
        self._server = _Server((host, port), _Handler)
        self._server.fakes = self.fakes
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    def url(self, fake: str) -> str:
        return f"{self.base_url}/{fake}"

    def control_url(self, fake: str) -> str:
        return f"{self.base_url}/_sandbox/{fake}"

    def start(self) -> Sandbox:
        """Serve in a background thread (tests)."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="cdpkit-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (the CLI)."""
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def describe(self) -> str:
        return json.dumps({name: self.url(name) for name in self.fakes})
