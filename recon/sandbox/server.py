"""Run the sandbox over HTTPS with uvicorn: in a background thread (tests) or in the foreground."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from recon.sandbox.app import create_app
from recon.sandbox.state import SandboxState, Settings


class _DropFaultFilter(logging.Filter):
    """Silences uvicorn's complaint about the bodies that `drop` faults cut on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


_DROP_FILTER = _DropFaultFilter()


class SandboxServer:
    """A Partner Center sandbox on https://127.0.0.1:PORT; writes state_dir/sandbox.json on start."""

    def __init__(
        self,
        state_dir: Path,
        *,
        seed: int = 1,
        size: str = "tiny",
        port: int = 0,
        today: date | None = None,
        switches: dict[str, str] | None = None,
        inject_rates: dict[str, float] | None = None,
        faults: list[str] | None = None,
        start: date | None = None,
    ):
        self.state_dir = Path(state_dir).resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.state = SandboxState(
            self.state_dir,
            Settings(
                seed, size, today, dict(switches or {}), dict(inject_rates or {}), list(faults or []), start=start
            ),
        )
        self.app = create_app(self.state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def info(self) -> dict[str, Any]:
        """The content of sandbox.json (connection settings, switches, the clock)."""
        return self.state.info()

    @property
    def sandbox_json(self) -> Path:
        """Path of the sandbox.json contract file."""
        return self.state_dir / "sandbox.json"

    def start(self, timeout: float = 30.0) -> SandboxServer:
        """Serve in a background thread; returns once the port accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the sandbox is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Without it Nagle holds the body's TLS record until the client's delayed ACK: ~45 ms a request.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self.state.port = self.port
        tls = self.state.tls
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            ssl_certfile=str(tls.server_cert),
            ssl_keyfile=str(tls.server_key),
            log_level="warning",
            access_log=False,
            lifespan="off",
            date_header=False,
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        logging.getLogger("uvicorn.error").addFilter(_DROP_FILTER)  # adding the same filter twice is a no-op
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="recon-sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.02)
        self.sandbox_json.write_text(json.dumps(self.info, indent=2) + "\n")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the server thread (idle keep-alive TLS clients are not waited for)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(0.5)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
            self._thread.join(timeout)
        self._server, self._thread = None, None

    def serve_forever(self) -> None:
        """Start (if needed) and block until Ctrl-C."""
        if self._thread is None:
            self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def run_foreground(
    state_dir: Path,
    *,
    seed: int = 1,
    size: str = "tiny",
    port: int = 0,
    today: date | None = None,
    switches: dict[str, str] | None = None,
    inject_rates: dict[str, float] | None = None,
    faults: list[str] | None = None,
    start: date | None = None,
) -> None:
    """Run a sandbox until Ctrl-C, printing where sandbox.json is."""
    server = SandboxServer(
        state_dir,
        seed=seed,
        size=size,
        port=port,
        today=today,
        switches=switches,
        inject_rates=inject_rates,
        faults=faults,
        start=start,
    )
    server.start()
    print(
        f"recon sandbox on {server.info['pc_base_url']} (today {server.info['today']}); "
        f"settings in {server.sandbox_json}",
        file=sys.stderr,
    )
    server.serve_forever()
