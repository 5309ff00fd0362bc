"""The part of the OSV API pip-audit calls, served on loopback from a local database.

``POST /v1/query`` with ``{"package": {"name", "ecosystem"}, "version"}`` answers
``{"vulns": [...]}`` (or ``{}`` when nothing matches), as api.osv.dev does.

    python -m floe.audit.osv_server DIR     # prints the URL on its first line, then serves
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from floe.audit.advisories import ECOSYSTEM, AdvisoryDatabase
from floe.errors import FloeError

QUERY_PATH = "/v1/query"


def answer(database: AdvisoryDatabase, query: dict[str, Any]) -> dict[str, Any]:
    package = query.get("package") or {}
    name, version = package.get("name"), query.get("version")
    if package.get("ecosystem", ECOSYSTEM) != ECOSYSTEM or not name or not version:
        return {}
    found = database.query(str(name), str(version))
    return {"vulns": [a.for_response(str(name)) for a in found]} if found else {}


def _handler(database: AdvisoryDatabase) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != QUERY_PATH:
                self._send(404, {"code": 5, "message": f"no such method: {self.path}"})
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
                query = json.loads(self.rfile.read(length) or b"{}")
            except (ValueError, json.JSONDecodeError) as exc:
                self._send(400, {"code": 3, "message": f"invalid query: {exc}"})
                return
            self._send(200, answer(database, query))

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pip-audit sends one query per package."""

    return Handler


@contextmanager
def serving(database: AdvisoryDatabase, port: int = 0) -> Iterator[str]:
    """Serve ``database`` on 127.0.0.1 while the block runs; yields the query URL.  The
    server is shut down and its socket closed when the block ends, however it ends."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(database))
    thread = threading.Thread(target=server.serve_forever, name="osv-mirror", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{QUERY_PATH}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m floe.audit.osv_server", description=__doc__)
    parser.add_argument("database", type=Path, help="advisory database (vulns/<pkg>/<ID>.yaml)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any)")
    args = parser.parse_args(argv)
    try:
        database = AdvisoryDatabase.load(args.database)
    except FloeError as error:
        print(str(error), file=sys.stderr)
        return error.exit_code
    with serving(database, args.port) as url:
        print(url, flush=True)
        print(
            f"advisory database {args.database}: {database.count} advisories, "
            f"newest published {database.newest}",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
