"""A small TCP proxy that can cut a client off from a server, as a network partition would.

The single-node Kafka of `tests/services/services.sh` has a second listener (PROXIED) that
advertises the proxy's port, so a client bootstrapped at the proxy reaches the broker only
through it: every connection librdkafka opens (bootstrap, coordinator, partition leader) passes
here. `cut()` makes the link silent: bytes already sent stay unanswered, new connections are
accepted but never reach the broker, nothing is closed (a client sees timeouts, not resets).
`restore()` drops the connections held during the cut, as a healed network whose peers have
long timed out, and forwards new ones again.
"""

from __future__ import annotations

import select
import socket
import threading
import time


class TcpProxy:
    def __init__(self, listen_port: int, target_port: int, host: str = "127.0.0.1"):
        self.target = (host, target_port)
        self._server = socket.create_server((host, listen_port), reuse_port=False)
        self._server.settimeout(0.2)
        self._lock = threading.Lock()
        self._cut = threading.Event()
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self.connections = 0
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True, name="proxy-accept")
        self._acceptor.start()

    # -- control ---------------------------------------------------------------------------

    def cut(self) -> None:
        self._cut.set()

    def restore(self) -> None:
        with self._lock:
            stale, self._sockets = self._sockets, []
        for s in stale:
            _close(s)
        self._cut.clear()

    def close(self) -> None:
        self._closing.set()
        self.restore()
        self._server.close()
        self._acceptor.join(timeout=5)
        assert not self._acceptor.is_alive(), "the proxy's accept loop did not stop"

    def __enter__(self) -> "TcpProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- forwarding ------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._sockets.append(client)
            if self._cut.is_set():
                continue  # held open, never answered, until restore() closes it
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets.append(upstream)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True, name="proxy-pump").start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self._closing.is_set():
                if self._cut.is_set():
                    # Silent: read nothing, send nothing; restore() closes both ends.
                    if a.fileno() == -1 or b.fileno() == -1:
                        return
                    time.sleep(0.1)
                    continue
                readable, _, _ = select.select([a, b], [], [], 0.2)
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            _close(a)
            _close(b)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
