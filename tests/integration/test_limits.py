"""test_limits.py - hostile and heavy clients: header and body size limits,
malformed requests, slow clients (header/idle timeouts), connection
floods, the connection cap, file descriptor exhaustion and garbage. After
each, the server must still answer /v1/health."""

import errno
import json
import os
import resource
import select
import selectors
import socket
import struct
import time
import unittest

from harness import (MAX_BODY, ConnClosed, Server, ServerTestCase, parse_raw_response,
                     scaled, unique_id, wait_until)


def req(method, path, headers=(), body=b"", version="1.1"):
    lines = ["%s %s HTTP/%s" % (method, path, version), "Host: 127.0.0.1"]
    lines += ["%s: %s" % kv for kv in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


HEALTH = req("GET", "/v1/health")


def status_of(data):
    """Status code of the first response in data, or None if data is
    empty. Anything else than an HTTP response is an AssertionError."""
    if not data:
        return None
    if not data.startswith(b"HTTP/1."):
        raise AssertionError("not an HTTP response: %r" % data[:200])
    return int(data.split(b" ", 2)[1])


class Limits(ServerTestCase):
    """Helpers: send bytes, read until the server closes, check it still
    serves others."""

    def exchange(self, data, timeout=5):
        """Sends data (ignoring EPIPE/reset from a server that already
        answered), reads until close or timeout. Returns (bytes, closed)."""
        with self.s.conn(timeout=timeout) as c:
            c.send(data)
            got = c.read_all(timeout)
            return got, c.eof

    def assertStillServing(self):
        self.s.assert_alive()
        self.assertTrue(self.s.health_ok(), "server no longer answers /v1/health")

    def assertRejected(self, data, statuses=(400,), must_answer=True):
        got, closed = self.exchange(data)
        st = status_of(got)
        if must_answer:
            self.assertIsNotNone(st, "no response at all to %r" % data[:120])
        if st is not None:
            self.assertIn(st, statuses, "%r -> %r" % (data[:120], got[:300]))
            # exactly one response: nothing after a rejected request is served
            r, rest = parse_raw_response(got)
            self.assertEqual(rest, b"", "bytes after the error response: %r" % rest[:200])
        self.assertTrue(closed, "connection left open after rejecting %r" % data[:120])
        self.assertStillServing()
        return st


# ====================================================================== sizes

class TestSizeLimits(Limits):

    def test_header_64k_431_then_close(self):
        data = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n"
        self.assertRejected(data, (431,))

    def test_header_block_256k_431(self):
        data = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-H%d: %s\r\n" % (i, b"b" * 8000) for i in range(32)) + b"\r\n"
        self.assertRejected(data, (431,))

    def test_header_just_under_16k_ok(self):
        head = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"
        pads = []
        target = 16 * 1024 - 200
        size = len(head) + 2
        i = 0
        while size < target:
            n = min(3000, target - size - 16)
            if n <= 0:
                break
            line = b"X-Pad-%d: %s\r\n" % (i, b"p" * n)
            pads.append(line)
            size += len(line)
            i += 1
        data = head + b"".join(pads) + b"\r\n"
        self.assertLess(len(data), 16 * 1024)
        self.assertGreater(len(data), 16 * 1024 - 400)
        with self.s.conn() as c:
            c.send(data)
            r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b'{"status":"ok"}')

    def test_many_small_headers_rejected(self):
        data = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-N%d: v\r\n" % i for i in range(200)) + b"\r\n"
        self.assertRejected(data, (431, 400))

    def test_40_headers_ok(self):
        data = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-N%d: v\r\n" % i for i in range(40)) + b"\r\n"
        with self.s.conn() as c:
            c.send(data)
            r = c.read_response()
        self.assertEqual(r.status, 200)

    def test_long_request_target_rejected(self):
        data = b"GET /v1/health?" + b"q" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        self.assertRejected(data, (414, 431, 400))

    def test_content_length_3000000_413_without_body(self):
        sid = unique_id()
        head = req("POST", "/v1/sessions/" + sid, [("Content-Type", "application/json"),
                                                  ("Content-Length", "3000000")])
        with self.s.conn() as c:
            c.send(head + b'{"agent":"mock","pad":"')
            t0 = time.monotonic()
            try:
                r = c.read_response()
            except ConnClosed as e:
                self.fail("closed without a 413: %s" % e)
            self.assertLess(time.monotonic() - t0, scaled(3), "413 came late: body was awaited")
            self.assertEqual(r.status, 413, r)
            self.assertTrue(c.is_closed(3), "connection left open after 413 with an unread body")
        self.assertStillServing()

    def test_content_length_limit_plus_one_413(self):
        head = req("POST", "/v1/sessions/" + unique_id(), [("Content-Type", "application/json"),
                                                          ("Content-Length", str(MAX_BODY + 1))])
        with self.s.conn() as c:
            c.send(head)
            r = c.read_response()
            self.assertEqual(r.status, 413, r)
        self.assertStillServing()

    def test_body_exactly_limit_accepted(self):
        sid = unique_id()
        prefix = b'{"agent":"mock","pad":"'
        suffix = b'"}'
        body = prefix + b"x" * (MAX_BODY - len(prefix) - len(suffix)) + suffix
        self.assertEqual(len(body), MAX_BODY)
        st, h, rb = self.s.request("POST", "/v1/sessions/" + sid, body=body,
                                   headers={"Content-Type": "application/json"}, timeout=30)
        self.assertEqual(st, 200, rb[:300])
        self.assertEqual(json.loads(rb).get("healthy"), True)

    def test_chunked_body_over_limit_413(self):
        sid = unique_id()
        head = req("POST", "/v1/sessions/" + sid, [("Content-Type", "application/json"),
                                                  ("Transfer-Encoding", "chunked")])
        piece = b"x" * 65536
        chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
        sock = socket.create_connection(("127.0.0.1", self.s.port), timeout=scaled(10))
        try:
            sock.sendall(head + b"1\r\n{\r\n")
            sent = 0
            answered = False
            pending = b""
            deadline = time.monotonic() + scaled(20)
            while time.monotonic() < deadline and sent < 4 * MAX_BODY:
                if not pending:
                    pending = chunk
                r, w, _ = select.select([sock], [sock], [], 0.5)
                if r:
                    answered = True
                    break
                if w:
                    try:
                        n = sock.send(pending)
                    except (BrokenPipeError, ConnectionResetError):
                        break
                    pending = pending[n:]
                    sent += n
            self.assertGreater(sent, MAX_BODY - 65536, "server answered before the body reached the limit")
            sock.settimeout(scaled(5))
            data = b""
            try:
                while True:
                    got = sock.recv(65536)
                    if not got:
                        break
                    data += got
            except ConnectionResetError:
                pass
            except socket.timeout:
                self.fail("connection not closed after the oversized chunked body (sent %d, answered %s, got %r)"
                          % (sent, answered, data[:200]))
            self.assertEqual(status_of(data), 413, data[:300])
            self.assertLess(sent, 4 * MAX_BODY, "server kept reading far past the limit")
        finally:
            sock.close()
        self.assertStillServing()


# ====================================================================== malformed

class TestMalformed(Limits):

    def test_request_line_without_target(self):
        self.assertRejected(b"GET\r\n\r\n")

    def test_request_line_without_version(self):
        self.assertRejected(b"GET /v1/health\r\n\r\n")

    def test_unknown_http_version(self):
        self.assertRejected(b"GET / HTTP/9.9\r\n\r\n", (400, 505))

    def test_lowercase_http_version(self):
        self.assertRejected(b"GET / http/1.1\r\nHost: x\r\n\r\n")

    def test_nul_in_method(self):
        self.assertRejected(b"G\x00T / HTTP/1.1\r\n\r\n")

    def test_space_in_target(self):
        self.assertRejected(b"GET /v1/ health HTTP/1.1\r\nHost: x\r\n\r\n")

    def test_control_byte_in_target(self):
        self.assertRejected(b"GET /v1/\x01health HTTP/1.1\r\nHost: x\r\n\r\n")

    def test_header_without_colon(self):
        self.assertRejected(b"GET /v1/health HTTP/1.1\r\nHost x\r\n\r\n")

    def test_space_before_colon(self):
        self.assertRejected(b"GET /v1/health HTTP/1.1\r\nHost : x\r\n\r\n")

    def test_bad_char_in_header_name(self):
        self.assertRejected(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX(y): 1\r\n\r\n")

    def test_empty_header_name(self):
        self.assertRejected(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n")

    def test_obs_fold(self):
        self.assertRejected(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n")

    def test_bare_cr_in_header(self):
        self.assertRejected(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n")

    def test_content_length_and_transfer_encoding(self):
        self.assertRejected(req("POST", "/v1/sessions/x", [("Content-Type", "application/json"),
                                                          ("Content-Length", "5"),
                                                          ("Transfer-Encoding", "chunked")],
                                b"0\r\n\r\n"))

    def test_two_different_content_lengths(self):
        self.assertRejected(req("POST", "/v1/sessions/x", [("Content-Type", "application/json"),
                                                          ("Content-Length", "5"),
                                                          ("Content-Length", "6")], b"{}   "))

    def test_content_length_list_disagreeing(self):
        self.assertRejected(req("POST", "/v1/sessions/x", [("Content-Type", "application/json"),
                                                          ("Content-Length", "2, 3")], b"{} "))

    def test_non_numeric_content_length(self):
        self.assertRejected(req("POST", "/v1/sessions/x", [("Content-Type", "application/json"),
                                                          ("Content-Length", "abc")], b"{}"))

    def test_negative_content_length(self):
        self.assertRejected(req("POST", "/v1/sessions/x", [("Content-Type", "application/json"),
                                                          ("Content-Length", "-1")], b"{}"))

    def test_plus_sign_content_length(self):
        self.assertRejected(req("POST", "/v1/sessions/x", [("Content-Type", "application/json"),
                                                          ("Content-Length", "+2")], b"{}"))

    def test_huge_content_length(self):
        self.assertRejected(req("POST", "/v1/sessions/x", [("Content-Type", "application/json"),
                                                          ("Content-Length", "99999999999999999999999")],
                                b"{}"), (400, 413))

    def test_bad_chunk_size(self):
        self.assertRejected(req("POST", "/v1/sessions/x", [("Content-Type", "application/json"),
                                                          ("Transfer-Encoding", "chunked")],
                                b"zz\r\n{}\r\n0\r\n\r\n"))

    def test_chunk_size_overflow(self):
        self.assertRejected(req("POST", "/v1/sessions/x", [("Content-Type", "application/json"),
                                                          ("Transfer-Encoding", "chunked")],
                                b"10000000000000000000\r\n{}\r\n0\r\n\r\n"), (400, 413))

    def test_chunk_missing_crlf(self):
        self.assertRejected(req("POST", "/v1/sessions/x", [("Content-Type", "application/json"),
                                                          ("Transfer-Encoding", "chunked")],
                                b"2\r\n{}XX0\r\n\r\n"))

    def test_unsupported_transfer_encoding(self):
        self.assertRejected(req("POST", "/v1/sessions/x", [("Content-Type", "application/json"),
                                                          ("Transfer-Encoding", "gzip")], b"{}"),
                            (400, 501))

    def test_chunked_not_last(self):
        self.assertRejected(req("POST", "/v1/sessions/x", [("Content-Type", "application/json"),
                                                          ("Transfer-Encoding", "chunked, gzip")],
                                b"2\r\n{}\r\n0\r\n\r\n"), (400, 501))

    def test_garbage_1mb(self):
        rnd = os.urandom(1 << 20)
        got, closed = self.exchange(rnd, timeout=10)
        st = status_of(got)
        self.assertIn(st, (None, 400, 431), got[:200])
        self.assertTrue(closed, "connection left open after 1 MB of garbage")
        self.assertStillServing()

    def test_garbage_after_request_line(self):
        rnd = os.urandom(1 << 20).replace(b"\n", b"x")
        got, closed = self.exchange(b"GET /v1/health HTTP/1.1\r\n" + rnd, timeout=10)
        st = status_of(got)
        self.assertIn(st, (None, 400, 431), got[:200])
        self.assertTrue(closed, "connection left open after garbage headers")
        self.assertStillServing()

    def test_garbage_many_connections(self):
        for i in range(50):
            with self.s.conn() as c:
                c.send(os.urandom(1 + (i * 97) % 3000))
        self.assertStillServing()

    def test_valid_request_after_garbage_on_other_connection(self):
        with self.s.conn() as bad:
            bad.send(b"\xff\xfe\x00garbage\r\n\r\n")
            with self.s.conn() as good:
                good.send(HEALTH)
                r = good.read_response()
                self.assertEqual(r.status, 200)

    def test_abrupt_resets(self):
        for i in range(30):
            s = socket.create_connection(("127.0.0.1", self.s.port), timeout=scaled(5))
            s.sendall(HEALTH[:10 + i])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        self.assertStillServing()

    def test_client_closes_before_reading_response(self):
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", self.s.port), timeout=scaled(5))
            s.sendall(req("GET", "/v1/agents") * 20)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        self.assertStillServing()


# ====================================================================== fds

class TestNoLeaks(Limits):

    def test_no_fd_leak_after_many_connections(self):
        base = self.s.fds()
        for i in range(200):
            with self.s.conn() as c:
                kind = i % 4
                if kind == 0:
                    c.send(HEALTH)
                    c.read_response()
                elif kind == 1:
                    c.send(req("GET", "/v1/health", [("Connection", "close")]))
                    c.read_all(2)
                elif kind == 2:
                    c.send(b"GET / HT")  # incomplete, then close
                else:
                    pass  # connect and close
        self.assertStillServing()
        now = wait_until(lambda: self.s.fds() <= base + 1, 5)
        self.assertTrue(now, "fd count grew from %d to %d" % (base, self.s.fds()))

    def test_no_children_without_agents(self):
        self.assertEqual(self.s.children(), [])


# ====================================================================== timeouts

class TestTimeouts(Limits):
    server_args = ["--header-timeout-ms", "1000", "--idle-timeout-ms", "1000"]

    def test_slowloris_header_timeout(self):
        """Headers trickling in, one byte every 0.25 s: the connection must
        be cut at the header deadline (about 1 s), not kept alive by each
        byte, while other clients keep getting fast answers."""
        c = self.s.conn()
        try:
            c.send(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            t0 = time.monotonic()
            closed_at, data, worst = None, b"", 0.0
            while time.monotonic() - t0 < scaled(6):
                if not c.send(b"a"):
                    closed_at = time.monotonic()
                    break
                r, _, _ = select.select([c.sock], [], [], 0.25)
                if r:
                    try:
                        got = c.sock.recv(4096)
                    except ConnectionResetError:
                        got = b""
                    if not got:
                        closed_at = time.monotonic()
                        break
                    data += got
                h0 = time.monotonic()
                self.assertTrue(self.s.health_ok(timeout=2), "health failed during slowloris")
                worst = max(worst, time.monotonic() - h0)
            self.assertIsNotNone(closed_at, "slow connection still open after %.1fs" % scaled(6))
            took = closed_at - t0
            self.assertLess(took, scaled(3.5), "closed only after %.1fs" % took)
            self.assertGreater(took, 0.7, "closed after %.2fs, before the header timeout" % took)
            if data:
                self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:200])
            self.assertLess(worst, scaled(0.5), "health took %.2fs during slowloris" % worst)
        finally:
            c.close()
        self.assertStillServing()

    def test_silent_connection_closed(self):
        with self.s.conn() as c:
            t0 = time.monotonic()
            self.assertTrue(c.is_closed(4), "a connection that never sends was not closed")
            took = time.monotonic() - t0
            self.assertGreater(took, 0.7)
            self.assertLess(took, scaled(3.5))
        self.assertStillServing()

    def test_partial_request_line_closed(self):
        with self.s.conn() as c:
            c.send(b"GET /v1/hea")
            got = c.read_all(4)
            self.assertTrue(c.eof, "half a request line kept the connection open")
            if got:
                self.assertTrue(got.startswith(b"HTTP/1.1 408"), got[:200])

    def test_idle_keep_alive_closed(self):
        with self.s.conn() as c:
            c.send(HEALTH)
            r = c.read_response()
            self.assertEqual(r.status, 200)
            t0 = time.monotonic()
            self.assertTrue(c.is_closed(4), "idle keep-alive connection not closed")
            took = time.monotonic() - t0
            self.assertGreater(took, 0.7, "idle connection closed after %.2fs" % took)
            self.assertLess(took, scaled(3))

    def test_activity_resets_idle_timer(self):
        with self.s.conn() as c:
            for _ in range(4):
                c.send(HEALTH)
                r = c.read_response()
                self.assertEqual(r.status, 200)
                time.sleep(0.5)
            # 2 s in total on one connection with a 1 s idle timeout
            c.send(HEALTH)
            self.assertEqual(c.read_response().status, 200)


# ====================================================================== floods

def _raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def flood(port, n, deadline_s, request=None):
    """Opens n non-blocking connections and waits until all are
    established (or failed), so that they are all open at once; then sends
    one request (with Connection: close) on each and reads every one until
    close. Returns a dict of outcome counts: 200, 503, other status codes,
    'closed' (EOF without data), 'reset', 'refused', 'hang'."""
    request = request or req("GET", "/v1/health", [("Connection", "close")])
    sel = selectors.DefaultSelector()
    outcomes = {}
    socks = {}  # fd -> [socket, phase, received bytes]
    deadline = time.monotonic() + deadline_s

    def done(fd, outcome):
        st = socks.pop(fd)
        sel.unregister(st[0])
        st[0].close()
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            if err not in (0, errno.EINPROGRESS):
                outcomes["refused"] = outcomes.get("refused", 0) + 1
                s.close()
                continue
            socks[s.fileno()] = [s, "connect", b""]
            sel.register(s, selectors.EVENT_WRITE)

        # phase 1: every connection established
        connecting = len(socks)
        while connecting and time.monotonic() < deadline:
            for key, mask in sel.select(0.2):
                st = socks.get(key.fd)
                if st is None or st[1] != "connect":
                    continue
                connecting -= 1
                e = st[0].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if e:
                    done(key.fd, "refused")
                    continue
                st[1] = "connected"
                sel.modify(st[0], selectors.EVENT_READ)
        # phase 2: a request on each (a 503 may already be waiting)
        for fd, st in list(socks.items()):
            if st[1] != "connected":
                continue
            try:
                st[0].send(request)  # small: goes out in one piece
            except (BrokenPipeError, ConnectionResetError):
                pass  # read what the server said before closing
            st[1] = "read"
        # phase 3: read every answer until close
        while socks and time.monotonic() < deadline:
            for key, mask in sel.select(0.2):
                fd = key.fd
                st = socks.get(fd)
                if st is None or st[1] != "read":
                    continue
                try:
                    got = st[0].recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    done(fd, status_of(st[2]) or "reset")
                    continue
                if got:
                    st[2] += got
                    continue
                code = status_of(st[2])
                done(fd, code if code is not None else "closed")
        outcomes["hang"] = len(socks)
        return outcomes
    finally:
        for st in socks.values():
            st[0].close()
        sel.close()


class TestFlood(unittest.TestCase):

    def test_2000_simultaneous_connections(self):
        limit = _raise_nofile(8192)
        n = min(2000, limit - 100)
        if n < 2000:
            print("(only %d connections: RLIMIT_NOFILE %d)" % (n, limit))
        with Server() as s:
            base = s.fds()
            out = flood(s.port, n, scaled(40))
            s.assert_alive("after %d connections" % n)
            self.assertEqual(out.get("hang", 0), 0, "connections without answer or close: %r" % out)
            bad = {k: v for k, v in out.items() if k not in (200, 503, "closed", "reset", "hang")}
            self.assertEqual(bad, {}, "unexpected outcomes: %r" % out)
            self.assertGreater(out.get(200, 0), 0, out)
            self.assertTrue(s.health_ok(), "no health answer after the flood")
            ok = wait_until(lambda: s.fds() <= base + 1, 5)
            self.assertTrue(ok, "fds went from %d to %d after the flood" % (base, s.fds()))

    def test_flood_of_idle_connections_then_service(self):
        _raise_nofile(8192)
        with Server() as s:
            socks = []
            try:
                for _ in range(1000):
                    c = socket.socket()
                    c.setblocking(False)
                    c.connect_ex(("127.0.0.1", s.port))
                    socks.append(c)
                time.sleep(0.5)
                t0 = time.monotonic()
                # the server must still answer new clients (200, or a quick 503)
                got = s.raw(req("GET", "/v1/health", [("Connection", "close")]), timeout=5)
                self.assertIn(status_of(got), (200, 503), got[:200])
                self.assertLess(time.monotonic() - t0, scaled(3))
            finally:
                for c in socks:
                    c.close()
            s.assert_alive()
            self.assertTrue(wait_until(s.health_ok, 5))


class TestMaxConnections(unittest.TestCase):

    def test_cap_503_then_slot_frees(self):
        with Server(["--max-connections", "50"]) as s:
            held = []
            try:
                for i in range(50):
                    c = s.conn()
                    held.append(c)
                    c.send(HEALTH)
                    r = c.read_response()
                    self.assertEqual(r.status, 200, "connection %d: %r" % (i + 1, r))
                with s.conn() as extra:
                    extra.send(HEALTH)
                    try:
                        r = extra.read_response()
                    except ConnClosed as e:
                        self.fail("51st connection closed without a 503: %s" % e)
                    self.assertEqual(r.status, 503, r)
                    ct = r.headers.get("content-type", "")
                    self.assertTrue(ct.startswith("application/json") or
                                    ct.startswith("application/problem+json"), ct)
                    body = r.json()
                    self.assertEqual(body.get("status"), 503, body)
                    for k in ("type", "title", "detail"):
                        self.assertIn(k, body)
                    self.assertTrue(extra.is_closed(3), "51st connection not closed after 503")
                # the held ones still work
                held[0].send(HEALTH)
                self.assertEqual(held[0].read_response().status, 200)
                # free a slot: a new connection is served again
                held.pop().close()

                def served():
                    data = s.raw(req("GET", "/v1/health", [("Connection", "close")]), timeout=3)
                    return status_of(data) == 200
                self.assertTrue(wait_until(served, 3, 0.1), "slot not released after a close")
            finally:
                for c in held:
                    c.close()

    def test_cap_flood(self):
        _raise_nofile(8192)
        with Server(["--max-connections", "50"]) as s:
            out = flood(s.port, 500, scaled(30))
            s.assert_alive()
            self.assertEqual(out.get("hang", 0), 0, out)
            bad = {k: v for k, v in out.items() if k not in (200, 503, "closed", "reset", "hang")}
            self.assertEqual(bad, {}, out)
            self.assertGreater(out.get(200, 0), 0, out)
            self.assertTrue(s.health_ok())


def _cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        st = f.read()
    fields = st[st.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TestFdExhaustion(unittest.TestCase):
    """The server runs with RLIMIT_NOFILE 64 (soft and hard): accept() hits EMFILE. It
    must neither crash, nor spin on the readable listener, and must
    recover once clients go away."""

    @staticmethod
    def _low_nofile():
        # hard limit too: a server may raise its soft limit at startup
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    def test_emfile_flood(self):
        _raise_nofile(8192)
        with Server(preexec_fn=self._low_nofile) as s:
            out = flood(s.port, 400, scaled(30))
            s.assert_alive("after EMFILE flood")
            self.assertEqual(out.get("hang", 0), 0, out)
            bad = {k: v for k, v in out.items() if k not in (200, 503, "closed", "reset", "hang")}
            self.assertEqual(bad, {}, out)
            self.assertTrue(wait_until(s.health_ok, 5), "no recovery after EMFILE")

    def test_emfile_no_busy_loop(self):
        _raise_nofile(8192)
        with Server(preexec_fn=self._low_nofile) as s:
            held = []
            try:
                for _ in range(150):
                    c = socket.socket()
                    c.setblocking(False)
                    c.connect_ex(("127.0.0.1", s.port))
                    held.append(c)
                time.sleep(0.5)
                c0 = _cpu_seconds(s.pid)
                time.sleep(1.0)
                used = _cpu_seconds(s.pid) - c0
                self.assertLess(used, 0.5, "server used %.2fs CPU in 1s while out of fds" % used)
            finally:
                for c in held:
                    c.close()
            s.assert_alive()
            self.assertTrue(wait_until(s.health_ok, 5), "no recovery after EMFILE")


if __name__ == "__main__":
    unittest.main()
