"""An allow-listing CONNECT proxy: the dependency build's only way out (standard library only).

Runs as `python3 -I -c <this file> ARGS` in its own container on the build's network and the default
bridge. It tunnels CONNECT requests to the allowed HOST:PORT pairs and refuses everything else; it
never reads what it tunnels (pip verifies TLS end to end).

  --listen PORT            port to listen on (all addresses)
  --clients CIDR           only clients from this network are served (the build network)
  --host HOST:PORT         an allowed destination; its addresses must be public
  --trusted HOST:PORT      an allowed destination the operator named; any address but link-local
  --upstream HOST:PORT     reach destinations through this CONNECT proxy (the host's HTTPS_PROXY)
"""

from __future__ import annotations

import ipaddress
import select
import socket
import socketserver
import sys
import threading

HEADER_LIMIT = 8192
HEADER_TIMEOUT = 20
CONNECT_TIMEOUT = 20
IDLE_TIMEOUT = 300
MAX_CLIENTS = 64
# Never a destination of a default host: the host, Docker's and other private networks, metadata services.
BLOCKED = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/3",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
]
LINK_LOCAL = [ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10")]


class Policy:
    def __init__(self, argv: list[str]) -> None:
        self.port = 3128
        self.clients: list = []
        self.hosts: dict[tuple[str, int], bool] = {}  # (host, port) -> trusted
        self.upstream: tuple[str, int] | None = None
        if len(argv) % 2:
            raise SystemExit(f"gym-review-proxy: odd arguments {argv!r}")
        pairs = list(zip(argv[::2], argv[1::2], strict=True))
        for flag, value in pairs:
            if flag == "--listen":
                self.port = int(value)
            elif flag == "--clients":
                self.clients.append(ipaddress.ip_network(value, strict=False))
            elif flag in ("--host", "--trusted"):
                self.hosts[split_host_port(value)] = flag == "--trusted"
            elif flag == "--upstream":
                self.upstream = split_host_port(value)
            else:
                raise SystemExit(f"gym-review-proxy: unknown flag {flag!r}")

    def client_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return not self.clients or any(ip in net for net in self.clients)

    def address_allowed(self, trusted: bool, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if getattr(ip, "ipv4_mapped", None):
            ip = ip.ipv4_mapped
        blocked = LINK_LOCAL if trusted else BLOCKED
        return not any(ip.version == net.version and ip in net for net in blocked)


def split_host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not HOST:PORT: {text!r}")
    return host.strip("[]").lower().rstrip("."), int(port)


def log(message: str) -> None:
    print(f"gym-review-proxy: {message}", flush=True)


def read_head(conn: socket.socket) -> tuple[bytes, bytes] | None:
    """The request or response head (up to a blank line) and whatever followed it, or None."""
    conn.settimeout(HEADER_TIMEOUT)
    data = b""
    while True:
        for end in (b"\r\n\r\n", b"\n\n"):
            if end in data:
                head, _, rest = data.partition(end)
                return head, rest
        chunk = conn.recv(1024)
        if not chunk or len(data) > HEADER_LIMIT:
            return None
        data += chunk


def open_tunnel(policy: Policy, host: str, port: int) -> socket.socket:
    """A connection to host:port (directly, or through the upstream proxy), its address checked."""
    trusted = policy.hosts[(host, port)]
    if policy.upstream is not None:
        sock = socket.create_connection(policy.upstream, timeout=CONNECT_TIMEOUT)
        sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("ascii"))
        answer = read_head(sock)
        if answer is None or answer[0].split(b" ", 2)[1:2] != [b"200"]:
            sock.close()
            raise OSError("the upstream proxy refused the tunnel")
        return sock
    last: Exception | None = None
    for family, kind, proto, _, addr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if not policy.address_allowed(trusted, addr[0]):
            last = PermissionError(f"{host} resolves to {addr[0]}, which is not a public address")
            continue
        sock = socket.socket(family, kind, proto)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(addr)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"{host} has no address")


def pipe(a: socket.socket, b: socket.socket) -> None:
    for sock in (a, b):
        sock.setblocking(True)
        # A TLS record relayed in two writes must not wait for a delayed ACK (Nagle): pip makes
        # hundreds of small requests, and 40 ms each made the install a third slower.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    peers = {a: b, b: a}
    while True:
        ready, _, _ = select.select(list(peers), [], [], IDLE_TIMEOUT)
        if not ready:
            return
        for sock in ready:
            data = sock.recv(65536)
            if not data:
                return
            peers[sock].sendall(data)


class Handler(socketserver.BaseRequestHandler):
    policy: Policy
    slots = threading.BoundedSemaphore(MAX_CLIENTS)

    def handle(self) -> None:
        conn: socket.socket = self.request
        client = self.client_address[0]
        if not self.policy.client_allowed(client):
            log(f"refused client {client}")
            return
        if not self.slots.acquire(blocking=False):
            conn.sendall(b"HTTP/1.1 503 Too many connections\r\n\r\n")
            return
        try:
            self.serve(conn, client)
        except OSError as exc:
            log(f"{client}: {type(exc).__name__}: {exc}")
        finally:
            self.slots.release()

    def serve(self, conn: socket.socket, client: str) -> None:
        request = read_head(conn)
        if request is None:
            return
        head, early = request
        words = head.split(b"\n", 1)[0].decode("latin-1").split()
        if len(words) != 3 or words[0] != "CONNECT":
            log(f"refused {client}: {' '.join(words[:2])[:200]!r} (only CONNECT is served)")
            conn.sendall(b"HTTP/1.1 405 Only CONNECT\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            host, port = split_host_port(words[1])
        except ValueError:
            host, port = words[1][:200], 0
        if (host, port) not in self.policy.hosts:
            log(f"refused {client}: CONNECT {host}:{port} (not an allowed package host)")
            conn.sendall(b"HTTP/1.1 403 Not an allowed package host\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            upstream = open_tunnel(self.policy, host, port)
        except OSError as exc:
            log(f"refused {client}: CONNECT {host}:{port} ({exc})")
            conn.sendall(b"HTTP/1.1 502 Cannot reach the package host\r\nContent-Length: 0\r\n\r\n")
            return
        log(f"tunnel {client} -> {host}:{port}")
        with upstream:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if early:
                upstream.sendall(early)
            pipe(conn, upstream)


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    address_family = socket.AF_INET


def main(argv: list[str]) -> None:
    policy = Policy(argv)
    Handler.policy = policy
    with Server(("0.0.0.0", policy.port), Handler) as server:
        allowed = ", ".join(f"{h}:{p}" for h, p in policy.hosts)
        log(f"listening on port {server.server_address[1]}; allowed: {allowed}")
        server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
