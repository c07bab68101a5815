"""test_cli.py - the command line (help, version, usage errors, server
flags, refused configurations) and the server process lifecycle (startup
failures, graceful shutdown on SIGTERM/SIGINT)."""

import signal
import socket
import struct
import time
import unittest

from harness import (VERSION, Server, TOKEN_INVALID, free_port, run_cli,
                     scaled, unique_id, wait_until)


def server_cmd(port, *extra):
    return ["server", "--host", "127.0.0.1", "--port", str(port)] + list(extra)


class TestTopLevel(unittest.TestCase):

    def test_version_long(self):
        rc, out, err = run_cli(["--version"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "sandbox-agent %s\n" % VERSION)

    def test_version_short(self):
        rc, out, err = run_cli(["-V"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "sandbox-agent %s\n" % VERSION)

    def test_help_long(self):
        rc, out, err = run_cli(["--help"])
        self.assertEqual(rc, 0, err)
        self.assertIn("usage", out.lower())
        self.assertIn("server", out)
        self.assertEqual(err, "")

    def test_help_short(self):
        rc, out, err = run_cli(["-h"])
        self.assertEqual(rc, 0, err)
        self.assertIn("usage", out.lower())

    def test_no_args_usage_exit_2(self):
        rc, out, err = run_cli([])
        self.assertEqual(rc, 2)
        self.assertIn("usage", err.lower())
        self.assertEqual(out, "")

    def test_unknown_flag_exit_2(self):
        rc, out, err = run_cli(["--bogus-flag"])
        self.assertEqual(rc, 2)
        self.assertTrue(err.strip(), "no message on stderr")
        self.assertTrue("bogus-flag" in err or "usage" in err.lower(), err)

    def test_unknown_subcommand_exit_2(self):
        rc, out, err = run_cli(["frobnicate"])
        self.assertEqual(rc, 2)
        self.assertTrue(err.strip())

    def test_server_help(self):
        rc, out, err = run_cli(["server", "--help"])
        self.assertEqual(rc, 0, err)
        for flag in ("--host", "--port", "--token", "--cors-allow-origin"):
            self.assertIn(flag, out)


class TestServerUsageErrors(unittest.TestCase):
    """Each must exit quickly with status 2 and a message, never start."""

    def check(self, args):
        rc, out, err = run_cli(args, timeout=5)
        self.assertEqual(rc, 2, "args %r: rc %r, stderr %r" % (args, rc, err))
        self.assertTrue(err.strip(), "args %r: no message on stderr" % (args,))
        return err

    def test_unknown_server_flag(self):
        err = self.check(server_cmd(free_port(), "--bogus"))
        self.assertIn("bogus", err)

    def test_port_without_value(self):
        self.check(["server", "--host", "127.0.0.1", "--port"])

    def test_port_not_a_number(self):
        self.check(["server", "--port", "abc"])

    def test_port_out_of_range(self):
        self.check(["server", "--port", "70000"])

    def test_negative_port(self):
        self.check(["server", "--port", "-5"])

    def test_host_without_value(self):
        self.check(["server", "--host"])

    def test_token_without_value(self):
        self.check(["server", "--port", str(free_port()), "--token"])

    def test_unexpected_positional(self):
        self.check(server_cmd(free_port(), "extra-arg"))


class TestServerConfigErrors(unittest.TestCase):
    """Configurations the server refuses: non-zero exit, clear message,
    no server left running."""

    def refused(self, *extra):
        rc, out, err = run_cli(server_cmd(free_port(), *extra), timeout=5)
        self.assertNotEqual(rc, 0, "server accepted %r" % (extra,))
        self.assertTrue(err.strip(), "no message on stderr for %r" % (extra,))
        return rc, err

    def test_credentials_without_methods_and_headers(self):
        rc, err = self.refused("-O", "http://example.com", "-C")
        self.assertIn("credentials", err.lower())

    def test_credentials_long_flag(self):
        rc, err = self.refused("--cors-allow-origin", "http://example.com", "--cors-allow-credentials")
        self.assertIn("credentials", err.lower())

    def test_credentials_without_headers(self):
        rc, err = self.refused("-O", "http://example.com", "-C", "-M", "GET")
        self.assertIn("credentials", err.lower())

    def test_credentials_without_methods(self):
        rc, err = self.refused("-O", "http://example.com", "-C", "-A", "content-type")
        self.assertIn("credentials", err.lower())

    def test_invalid_cors_method(self):
        rc, err = self.refused("-M", "GE T")
        self.assertIn("invalid cors method: GE T", err)

    def test_invalid_cors_header(self):
        rc, err = self.refused("-A", "bad header")
        self.assertIn("invalid cors header: bad header", err)

    def test_cors_origin_header_injection(self):
        rc, err = self.refused("-O", "http://a.test\r\nX-Evil: 1")
        self.assertIn("invalid cors origin", err)

    def test_cors_origin_control_byte(self):
        rc, err = self.refused("-O", "http://a.test\x01")
        self.assertIn("invalid cors origin", err)

    def test_port_in_use(self):
        blocker = socket.socket()
        try:
            blocker.bind(("127.0.0.1", 0))
            blocker.listen(1)
            port = blocker.getsockname()[1]
            rc, out, err = run_cli(server_cmd(port), timeout=5)
            self.assertNotEqual(rc, 0)
            self.assertNotEqual(rc, 2, "bind failure reported as a usage error")
            self.assertTrue(err.strip(), "no message for a port in use")
        finally:
            blocker.close()

    def test_unresolvable_host(self):
        rc, out, err = run_cli(["server", "--host", "no.such.host.invalid", "--port", str(free_port())],
                               timeout=10)
        self.assertNotEqual(rc, 0)
        self.assertTrue(err.strip())


class TestServerFlags(unittest.TestCase):

    def test_short_host_and_port(self):
        with Server(argv=lambda p: ["server", "-H", "127.0.0.1", "-p", str(p)]) as s:
            self.assertTrue(s.health_ok())

    def test_flags_with_equals(self):
        with Server(argv=lambda p: ["server", "--host=127.0.0.1", "--port=%d" % p]) as s:
            self.assertTrue(s.health_ok())

    def test_token_before_subcommand(self):
        with Server(argv=lambda p: ["--token", "secret"] + server_cmd(p)) as s:
            st, body, h = s.json("GET", "/v1/agents")
            self.assertEqual((st, body), (401, TOKEN_INVALID))
            st, body, h = s.json("GET", "/v1/agents", headers={"Authorization": "Bearer secret"})
            self.assertEqual(st, 200)

    def test_no_token_before_subcommand(self):
        with Server(argv=lambda p: ["-n"] + server_cmd(p)) as s:
            st, body, h = s.json("GET", "/v1/agents")
            self.assertEqual(st, 200)

    def test_no_telemetry(self):
        with Server(["--no-telemetry"]) as s:
            self.assertTrue(s.health_ok())

    def test_ipv6_loopback(self):
        try:
            probe = socket.socket(socket.AF_INET6)
            probe.bind(("::1", 0))
            probe.close()
        except OSError:
            self.skipTest("no IPv6 loopback on this machine")
        with Server(host="::1") as s:
            st, h, body = s.request("GET", "/v1/health")
            self.assertEqual(st, 200)

    def test_all_flags_together(self):
        args = ["--token", "t", "-O", "http://a.test", "-M", "GET", "-A", "x-a",
                "--cors-allow-origin", "http://b.test", "--cors-allow-method", "POST",
                "--cors-allow-header", "x-b", "-C", "--no-telemetry"]
        with Server(args) as s:
            st, h, body = s.request("OPTIONS", "/v1/agents", headers={"Origin": "http://b.test"})
            self.assertEqual(st, 200)
            self.assertEqual(h.get("access-control-allow-origin"), "http://b.test")
            self.assertEqual(h.get("access-control-allow-methods"), "GET,POST")
            self.assertEqual(h.get("access-control-allow-headers"), "x-a,x-b")
            self.assertEqual(h.get("access-control-allow-credentials"), "true")


class TestShutdown(unittest.TestCase):

    def assertExitsZero(self, s, sig, within=2):
        t0 = time.monotonic()
        rc = s.stop(sig, within)
        took = time.monotonic() - t0
        self.assertIsNotNone(rc, "no exit within %.1fs of signal %d\n%s" % (scaled(within), sig, s.stderr_excerpt()))
        self.assertEqual(rc, 0, "exit %r after signal %d\n%s" % (rc, sig, s.stderr_excerpt()))
        s.check_sanitizer()
        return took

    def test_sigterm_no_connections(self):
        s = Server()
        try:
            self.assertExitsZero(s, signal.SIGTERM)
        finally:
            s.close(check=False)

    def test_sigterm_idle_keep_alive(self):
        s = Server()
        try:
            with s.conn() as c:
                c.send(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(c.read_response().status, 200)
                self.assertExitsZero(s, signal.SIGTERM)
                self.assertTrue(c.is_closed(1), "client connection still open after exit")
        finally:
            s.close(check=False)

    def test_sigint_idle_keep_alive(self):
        s = Server()
        try:
            with s.conn() as c:
                c.send(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(c.read_response().status, 200)
                self.assertExitsZero(s, signal.SIGINT)
        finally:
            s.close(check=False)

    def test_sigterm_half_sent_request(self):
        s = Server()
        try:
            with s.conn() as c:
                c.send(b"GET /v1/hea")
                time.sleep(0.1)
                self.assertExitsZero(s, signal.SIGTERM)
        finally:
            s.close(check=False)

    def test_sigterm_many_idle_connections(self):
        s = Server()
        conns = []
        try:
            for _ in range(100):
                c = s.conn()
                c.send(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                conns.append(c)
            for c in conns:
                self.assertEqual(c.read_response().status, 200)
            self.assertExitsZero(s, signal.SIGTERM)
        finally:
            for c in conns:
                c.close()
            s.close(check=False)

    def test_sigterm_with_open_sse_stream(self):
        s = Server()
        try:
            sid = unique_id()
            st, body, h = s.json("POST", "/v1/sessions/" + sid, {"agent": "mock"})
            self.assertEqual(st, 200, body)
            stream = s.sse("/v1/sessions/%s/events/sse" % sid)
            try:
                self.assertEqual(stream.status, 200, stream.body)
                first = stream.next()
                self.assertEqual(first.get("type"), "session.started")
                self.assertExitsZero(s, signal.SIGTERM)
                self.assertTrue(stream.wait_closed(1), "SSE stream still open after exit")
            finally:
                stream.close()
        finally:
            s.close(check=False)

    def test_port_released_after_exit(self):
        s = Server()
        try:
            port = s.port
            self.assertExitsZero(s, signal.SIGTERM)
            b = socket.socket()
            try:
                b.bind(("127.0.0.1", port))
                b.listen(1)
            finally:
                b.close()
        finally:
            s.close(check=False)

    def test_restart_on_same_port(self):
        s = Server()
        port = s.port
        try:
            self.assertExitsZero(s, signal.SIGTERM)
        finally:
            s.close(check=False)
        s2 = Server(port=port)
        try:
            self.assertTrue(s2.health_ok())
        finally:
            s2.close()

    def test_sigpipe_does_not_kill(self):
        """Writing to a peer that is gone must not raise SIGPIPE in the
        server: reset connections with pipelined requests outstanding."""
        with Server() as s:
            for _ in range(20):
                c = socket.create_connection(("127.0.0.1", s.port), timeout=scaled(5))
                c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 200)
                time.sleep(0.01)
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
            s.assert_alive("after peers reset mid-response")
            self.assertTrue(s.health_ok())

    def test_sse_client_gone_then_events(self):
        """An SSE subscriber that disconnects, then the session records
        events: the server must drop the subscriber, not die."""
        with Server() as s:
            sid = unique_id()
            st, body, h = s.json("POST", "/v1/sessions/" + sid, {"agent": "mock"})
            self.assertEqual(st, 200, body)
            base = s.fds()
            streams = [s.sse("/v1/sessions/%s/events/sse" % sid) for _ in range(5)]
            for st_ in streams:
                self.assertEqual(st_.status, 200)
                st_.next()
                st_.close()
            st, body, h = s.json("POST", "/v1/sessions/%s/messages" % sid, {"message": "help"})
            self.assertEqual(st, 204, body)
            time.sleep(scaled(1.0))
            s.assert_alive("after events for disconnected SSE clients")
            self.assertTrue(s.health_ok())
            ok = wait_until(lambda: s.fds() <= base, 3)
            self.assertTrue(ok, "fds %d -> %d: SSE connections not released" % (base, s.fds()))


if __name__ == "__main__":
    unittest.main()
