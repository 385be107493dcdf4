"""`tapedeck serve` against clients that do not play by the rules, with raw sockets (full control
of the request's headers): bad handshakes, slow or idle sockets, foreign origins, too many
connections, a client that writes and never reads, a close never answered, JWT issuer and
audience. Every test ends by checking that the server still serves."""
import base64
import os
import socket
import struct
import time

from conftest import serve, status, token

KEY = base64.b64encode(b"0123456789abcdef").decode()


def request(host, path="/", key=KEY, version="13", extra=()):
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade"]
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    if version is not None:
        lines.append(f"Sec-WebSocket-Version: {version}")
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def sock(host, rcvbuf=None):
    h, p = host.split(":")
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((h, int(p)))
    return s


def exchange(host, data, limit=10):
    """Sends `data` and reads until the server closes (or `limit` s): (status, head lines, body, seconds)."""
    s = sock(host)
    s.settimeout(limit)
    start = time.monotonic()
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    elapsed = time.monotonic() - start
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    code = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    return code, [line.lower() for line in lines[1:]], body, elapsed


def upgraded(host, path="/", extra=(), rcvbuf=None):
    """An open WebSocket (the 101 read), or the refusal's status."""
    s = sock(host, rcvbuf)
    s.settimeout(10)
    s.sendall(request(host, path, extra=extra))
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    code = int(got.split(b" ")[1]) if got else 0
    return code, s


def frame(opcode, payload):
    """A masked client frame."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def frames(data):
    """Server frames (opcode, payload) in `data`, as far as complete."""
    out, i = [], 0
    while i + 2 <= len(data):
        op, n, j = data[i] & 0x0F, data[i + 1] & 0x7F, i + 2
        if n == 126:
            n, j = struct.unpack(">H", data[j:j + 2])[0], j + 2
        elif n == 127:
            n, j = struct.unpack(">Q", data[j:j + 8])[0], j + 8
        if j + n > len(data):
            break
        out.append((op, data[j:j + n]))
        i = j + n
    return out


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def echo_works(host):
    code, s = upgraded(host)
    assert code == 101
    s.sendall(frame(0x1, b"still here"))
    got = b""
    while not frames(got):
        got += s.recv(4096)
    s.close()
    return frames(got)[0] == (0x1, b"still here")


def test_a_bad_handshake_gets_400_and_big_headers_431_at_once():
    with serve("scenarios/echo/echo.yaml") as (host, proc):
        code, head, _, _ = exchange(host, request(host, version="8"))
        assert code == 400 and "sec-websocket-version: 13" in head
        for key in (None, "c2hvcnQ=", "!!!"):
            code, _, body, _ = exchange(host, request(host, key=key))
            assert code == 400, (key, body)
        # A 10 MB token: 431 as soon as 80 KiB of headers are in, not after reading it all.
        code, _, _, elapsed = exchange(host, request(host, extra=["Authorization: Bearer " + "a" * 10_000_000]))
        assert code == 431 and elapsed < 5
        assert echo_works(host) and proc.poll() is None


def test_slowloris_and_idle_sockets_are_dropped_after_the_handshake_timeout():
    with serve("scenarios/echo/echo.yaml", "--handshake-timeout", "1s") as (host, proc):
        idle = sock(host)
        idle.settimeout(8)
        start = time.monotonic()
        assert idle.recv(1) == b""
        assert 0.9 <= time.monotonic() - start < 4
        slow = sock(host)
        slow.settimeout(8)
        start = time.monotonic()
        try:
            slow.sendall(b"GET / HTTP/1.1\r\n")
            for i in range(20):
                time.sleep(0.3)
                slow.sendall(f"X-Slow-{i}: x\r\n".encode())
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert time.monotonic() - start < 4
        assert echo_works(host) and proc.poll() is None


def test_an_origin_not_allowed_gets_403():
    with serve("scenarios/echo/echo.yaml", "--allow-origin", "http://app.example") as (host, proc):
        assert exchange(host, request(host, extra=["Origin: http://evil.example"]))[0] == 403
        code, s = upgraded(host, extra=["Origin: http://app.example"])
        assert code == 101
        s.close()
        assert echo_works(host) and proc.poll() is None


def test_connection_caps_refuse_before_the_upgrade():
    with serve("scenarios/echo/echo.yaml", "--max-connections", "2") as (host, proc):
        held = [upgraded(host) for _ in range(2)]
        assert [c for c, _ in held] == [101, 101]
        code, _, body, _ = exchange(host, request(host))
        assert code == 503 and b"too many connections" in body
        held[0][1].close()
        time.sleep(0.3)
        assert echo_works(host) and proc.poll() is None
        held[1][1].close()
    # Per identity: neurallog counts per tenant (limits.identity), and answers in its error format.
    acme1, acme2, globex = (token("--tenant", t, "--user", u) for t, u in [("acme", "a"), ("acme", "b"), ("globex", "c")])
    with serve("--max-connections-per-identity", "1") as (host, proc):
        code, first = upgraded(host, f"/v1/notifications?token={acme1}")
        assert code == 101
        code, _, body, _ = exchange(host, request(host, f"/v1/notifications?token={acme2}"))
        assert code == 429 and b'"too_many_connections"' in body
        code, other = upgraded(host, f"/v1/notifications?token={globex}")
        assert code == 101
        first.close()
        other.close()
        assert proc.poll() is None


def test_a_client_that_writes_and_never_reads_is_closed_and_server_memory_stays_bounded():
    with serve("scenarios/echo/echo.yaml", "--max-message-size", "1MiB") as (host, proc):
        assert echo_works(host)
        before = rss_kib(proc.pid)
        peak = before
        # 80 MB of 64 KiB binary messages to echo, then 200,000 pings of 125 bytes (25 MB of
        # pongs: far more than the socket buffers hold), none of it ever read.
        for flood in ([frame(0x2, os.urandom(64 << 10))] * 1200, [frame(0x9, b"p" * 125)] * 200_000):
            s = sock(host, rcvbuf=4096)
            s.sendall(request(host))
            s.settimeout(60)
            # Closed by the server: a reset or a broken pipe while writing, or the end of the
            # stream (or a reset) while reading. A read that waits 60 s for nothing is a server
            # that kept the connection open: a failure, however slowly a loaded machine runs.
            closed = False
            try:
                batch = 256
                for i in range(0, len(flood), batch):
                    s.sendall(b"".join(flood[i:i + batch]))
                    peak = max(peak, rss_kib(proc.pid))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
            except socket.timeout:
                pass
            # The server stops answering (1008) and, as this client never reads its close, drops
            # the connection after the close timeout (5 s).
            try:
                while not closed:
                    peak = max(peak, rss_kib(proc.pid))
                    if not s.recv(1 << 20):
                        closed = True
            except ConnectionResetError:
                closed = True
            except socket.timeout:
                pass
            assert closed, "the server neither closed nor reset a connection it had stopped serving"
            s.close()
        grown = (peak - before) / 1024
        print(f"server RSS: {before / 1024:.0f} MiB before, {peak / 1024:.0f} MiB at peak (+{grown:.0f} MiB)")
        # Bounded by the default 1000 replies / 16 MiB: about +25 to +40 MiB in all. Unbounded
        # (--reply-queue-bytes 1GiB) the same flood grows the server by about 175 MiB.
        assert grown < 70, f"the server grew by {grown:.0f} MiB"
        assert echo_works(host) and proc.poll() is None


def test_unread_replies_close_with_1008_and_a_close_never_answered_is_dropped():
    with serve("scenarios/echo/echo.yaml", "--reply-queue-size", "8", "--close-timeout", "3s") as (host, proc):
        # A small receive buffer: the kernel does not grow it to tens of megabytes. 6.5 MB to echo
        # is more than the socket buffers and 8 replies hold, and little enough for the server
        # to have read it all well before the close timeout (else it drops the connection with
        # the client's data unread: a reset, before this client could read the close).
        code, s = upgraded(host, rcvbuf=4096)
        assert code == 101
        s.sendall(b"".join([frame(0x2, b"x" * (64 << 10))] * 100))
        # sendall returns once the data is in this socket's send buffer: give the server time to
        # read it all (and to find it cannot write the replies).
        time.sleep(1.5)
        # Now read: what the socket holds, then the close with 1008, then the end (3 s after it).
        s.settimeout(10)
        got = b""
        start = time.monotonic()
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += chunk
        fs = frames(got)
        assert fs[-1][0] == 0x8 and struct.unpack(">H", fs[-1][1][:2])[0] == 1008, fs[-1]
        assert b"too many unread replies" in fs[-1][1]
        assert time.monotonic() - start < 6
        assert echo_works(host) and proc.poll() is None


def test_jwt_issuer_and_audience_when_configured():
    good = token("--claim", "iss=https://id.example", "--claim", "aud=tapedeck")
    wrong_iss = token("--claim", "iss=https://evil.example", "--claim", "aud=tapedeck")
    no_aud = token("--claim", "iss=https://id.example")
    with serve("--jwt-issuer", "https://id.example", "--jwt-audience", "tapedeck") as (host, proc):
        assert status(f"ws://{host}/api/ws", {"Authorization": f"Bearer {good}"}) == 101
        assert status(f"ws://{host}/api/ws", {"Authorization": f"Bearer {wrong_iss}"}) == 401
        assert status(f"ws://{host}/api/ws", {"Authorization": f"Bearer {no_aud}"}) == 401
        assert proc.poll() is None
