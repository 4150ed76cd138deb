"""A TCP proxy on 127.0.0.1 that a test controls: put it between a client and a server, then
simulate a network partition and `heal()` it to let connections through again:

  cut()        every open connection is reset and new ones are refused at once (the client
               notices on its next read or write);
  blackhole()  bytes in both directions are swallowed and new connections are accepted but never
               answered: the client's calls hang (TCP sees no loss: the proxy's kernel acks), the
               worst case for code that waits on the network.

Code under test must not depend on noticing either (a lease keeper stops acting by its own
clock, not by an error).
"""

from __future__ import annotations

import socket
import struct
import threading
from typing import Self


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._open = True
        self._swallow = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self.connections_made = 0

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def start(self) -> Self:
        self._thread.start()
        return self

    def cut(self) -> None:
        """Partition: reset every proxied connection and refuse new ones."""
        with self._lock:
            self._open = False
            doomed = list(self._sockets)
            self._sockets.clear()
        for sock in doomed:
            _reset(sock)

    def blackhole(self) -> None:
        """Partition that hangs: swallow all bytes, answer no new connection."""
        with self._lock:
            self._swallow = True

    def heal(self) -> None:
        with self._lock:
            self._open = True
            self._swallow = False

    def stop(self) -> None:
        self._stopped.set()
        self.cut()
        self._listener.close()
        self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                allowed, swallow = self._open, self._swallow
            if not allowed:
                _reset(client)
                continue
            if swallow:
                with self._lock:
                    self._sockets.add(client)
                threading.Thread(target=self._pump, args=(client, None), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._sockets.update((client, upstream))
                self.connections_made += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket | None) -> None:
        """Copy src -> dst until either closes; while blackholed (or with no dst) discard."""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self._lock:
                    swallow = self._swallow
                if dst is not None and not swallow:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(src)
                if dst is not None:
                    self._sockets.discard(dst)
            _reset(src)
            if dst is not None:
                _reset(dst)


def _reset(sock: socket.socket) -> None:
    """Kill a connection so the peer notices at once: SO_LINGER 0 makes the close an RST, and
    shutdown() first wakes a pump thread blocked in recv() on it (a bare close() from another
    thread would leave the socket alive until that recv() returns)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
