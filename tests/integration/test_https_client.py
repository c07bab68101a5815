"""test_https_client.py - the HTTP/1.1 client and the BearSSL TLS layer,
driven through the hidden `sandbox-agent fetch URL` subcommand against
python http.server / ssl servers on loopback, with a throwaway PKI made
by openssl (tlsfixture.py): framing (length, chunked, close), redirects,
large bodies, certificate checks, truncation, timeouts, proxies."""

import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
import unittest

from harness import VERSION, free_port, run_cli, scaled
import tlsfixture as tf

PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
              "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY")


def clean_env(**extra):
    """No proxy or CA settings from the caller's environment."""
    env = {k: None for k in PROXY_VARS}
    env["SSL_CERT_FILE"] = None
    env.update(extra)
    return env


def have_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


class ClientTestBase(unittest.TestCase):
    """One PKI and a set of servers for the whole module."""

    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl command not available")
        cls.dir = tempfile.mkdtemp(prefix="sa-tls-")
        cls.pki = tf.Pki(cls.dir)
        cls.ca = cls.pki.path("ca.pem")
        cls.http = tf.OriginServer()
        cls.https = tf.OriginServer(cls.pki.server_context("localhost"))
        cls.https_rsa = tf.OriginServer(cls.pki.server_context("localhost-rsa"))
        cls.https_other = tf.OriginServer(cls.pki.server_context("other"))

    @classmethod
    def tearDownClass(cls):
        for s in (cls.http, cls.https, cls.https_rsa, cls.https_other):
            s.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def fetch(self, url, *args, env=None, timeout=30):
        e = clean_env()
        if env:
            e.update(env)
        return run_cli(["fetch", url] + list(args), timeout=timeout, env=e)

    def ok(self, url, *args, env=None):
        rc, out, err = self.fetch(url, *args, env=env)
        self.assertEqual(rc, 0, "stderr: %r" % err)
        self.assertIn("HTTP 200", err)
        return out

    def fails(self, url, *args, env=None, timeout=30):
        rc, out, err = self.fetch(url, *args, env=env, timeout=timeout)
        self.assertEqual(rc, 1, "stdout %r stderr %r" % (out, err))
        self.assertIn("error:", err)
        return err

    def h(self, path):
        return "http://127.0.0.1:%d%s" % (self.http.port, path)

    def s(self, path, server=None):
        return "https://localhost:%d%s" % ((server or self.https).port, path)


class TestFraming(ClientTestBase):

    def test_http_content_length(self):
        self.assertEqual(self.ok(self.h("/hello")), "hello world\n")

    def test_https_content_length(self):
        self.assertEqual(self.ok(self.s("/hello"), "--ca-file", self.ca), "hello world\n")

    def test_https_rsa_chain(self):
        self.assertEqual(self.ok(self.s("/hello", self.https_rsa), "--ca-file", self.ca),
                         "hello world\n")

    def test_chunked(self):
        want = "first second " + "x" * 5000 + " last\n"
        self.assertEqual(self.ok(self.h("/chunked")), want)
        self.assertEqual(self.ok(self.s("/chunked"), "--ca-file", self.ca), want)

    def test_close_delimited(self):
        want = "line 0\nline 1\nline 2\n"
        self.assertEqual(self.ok(self.h("/close")), want)
        self.assertEqual(self.ok(self.s("/close"), "--ca-file", self.ca), want)

    def test_no_content_204(self):
        rc, out, err = self.fetch(self.h("/empty"))
        self.assertEqual(rc, 0, err)
        self.assertIn("HTTP 204", err)
        self.assertEqual(out, "")

    def test_head_has_no_body(self):
        rc, out, err = self.fetch(self.h("/hello"), "--method", "HEAD")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "")

    def test_404_is_exit_1_with_body(self):
        rc, out, err = self.fetch(self.h("/notfound"))
        self.assertEqual(rc, 1)
        self.assertIn("HTTP 404", err)
        self.assertEqual(out, "no such thing\n")

    def _big(self, url, *args):
        out = os.path.join(self.dir, "big-%d.bin" % time.monotonic_ns())
        rc, _, err = self.fetch(url, "--output", out, *args, timeout=60)
        self.assertEqual(rc, 0, err)
        with open(out, "rb") as f:
            data = f.read()
        os.unlink(out)
        self.assertEqual(len(data), tf.BIG_SIZE)
        self.assertEqual(hashlib.sha256(data).hexdigest(), tf.BIG_SHA256)

    def test_big_body_https_byte_exact(self):
        self._big(self.s("/big"), "--ca-file", self.ca)

    def test_big_body_https_chunked_byte_exact(self):
        self._big(self.s("/big-chunked"), "--ca-file", self.ca)

    def test_big_body_http_byte_exact(self):
        self._big(self.h("/big"))

    def test_max_bytes(self):
        err = self.fails(self.h("/big"), "--max-bytes", "1000")
        self.assertIn("larger than 1000", err)

    def test_max_bytes_stops_a_tls_chunked_stream(self):
        err = self.fails(self.s("/big-chunked"), "--ca-file", self.ca, "--max-bytes", "100000")
        self.assertIn("larger than 100000", err)

    def test_request_headers(self):
        out = self.ok(self.h("/echo?a=1"), "-H", "X-Test: yes")
        got = json.loads(out)
        hdrs = {k.lower(): v for k, v in got["headers"].items()}
        self.assertEqual(got["path"], "/echo?a=1")
        self.assertEqual(hdrs["host"], "127.0.0.1:%d" % self.http.port)
        self.assertEqual(hdrs["user-agent"], "sandbox-agent/%s" % VERSION)
        self.assertEqual(hdrs["accept-encoding"], "identity")
        self.assertEqual(hdrs["connection"], "close")
        self.assertEqual(hdrs["x-test"], "yes")

    def test_https_host_header_omits_default_port(self):
        got = json.loads(self.ok(self.s("/echo"), "--ca-file", self.ca))
        hdrs = {k.lower(): v for k, v in got["headers"].items()}
        self.assertEqual(hdrs["host"], "localhost:%d" % self.https.port)

    def test_caller_accept_encoding_wins(self):
        got = json.loads(self.ok(self.h("/echo"), "-H", "Accept-Encoding: gzip"))
        hdrs = {k.lower(): v for k, v in got["headers"].items()}
        self.assertEqual(hdrs["accept-encoding"], "gzip")

    def test_post_body(self):
        got = json.loads(self.ok(self.h("/echo"), "-X", "POST", "-d", "payload"))
        self.assertEqual(got, {"method": "POST", "body": "payload"})

    @unittest.skipUnless(have_ipv6_loopback(), "no IPv6 loopback")
    def test_ipv6_literal(self):
        srv = tf.OriginServer(host="::1")
        try:
            out = self.ok("http://[::1]:%d/echo" % srv.port)
            hdrs = {k.lower(): v for k, v in json.loads(out)["headers"].items()}
            self.assertEqual(hdrs["host"], "[::1]:%d" % srv.port)
        finally:
            srv.stop()

    def test_bad_urls(self):
        for url in ("ftp://example.com/", "http://", "http://exa mple.com/",
                    "http://[zz::1]/", "http://h:99999/"):
            err = self.fails(url)
            self.assertTrue("URL" in err, "%s: %s" % (url, err))


class TestRedirects(ClientTestBase):

    def test_chain_http(self):
        self.assertEqual(self.ok(self.h("/redirect/4")), "redirects done\n")
        paths = [p for _, p, _ in self.http.seen if p.startswith("/redirect/")]
        self.assertEqual(paths[-5:], ["/redirect/%d" % i for i in (4, 3, 2, 1, 0)])

    def test_chain_https(self):
        self.assertEqual(self.ok(self.s("/redirect/3"), "--ca-file", self.ca), "redirects done\n")

    def test_relative_location_with_dot_segments(self):
        self.assertEqual(self.ok(self.h("/rel")), "hello world\n")

    def test_absolute_location_to_other_server(self):
        target = "https://localhost:%d/hello" % self.https_rsa.port
        self.assertEqual(self.ok(self.s("/to?" + target), "--ca-file", self.ca), "hello world\n")

    def test_http_to_https_allowed(self):
        self.assertEqual(self.ok(self.h("/to?" + self.s("/hello")), "--ca-file", self.ca),
                         "hello world\n")

    def test_https_to_http_refused(self):
        err = self.fails(self.s("/to?" + self.h("/hello")), "--ca-file", self.ca)
        self.assertIn("https to http", err)

    def test_too_many_redirects(self):
        err = self.fails(self.h("/loop"))
        self.assertIn("too many redirects", err)
        err = self.fails(self.h("/redirect/3"), "--max-redirects", "2")
        self.assertIn("too many redirects", err)

    def test_redirects_off(self):
        rc, out, err = self.fetch(self.h("/redirect/1"), "--max-redirects", "-1")
        self.assertEqual(rc, 1)
        self.assertIn("HTTP 302", err)
        self.assertEqual(out, "moved\n")

    def test_303_turns_post_into_get(self):
        got = json.loads(self.ok(self.h("/see-other"), "-X", "POST", "-d", "x"))
        self.assertEqual(got["method"], "GET")

    def test_307_keeps_post_and_body(self):
        got = json.loads(self.ok(self.h("/temp-redirect"), "-X", "POST", "-d", "keep me"))
        self.assertEqual(got, {"method": "POST", "body": "keep me"})

    def test_cross_host_redirect_drops_authorization(self):
        target = "http://localhost:%d/echo" % self.http.port
        got = json.loads(self.ok(self.h("/to?" + target), "-H", "Authorization: Bearer s3cret",
                                 "-H", "X-Keep: 1"))
        hdrs = {k.lower(): v for k, v in got["headers"].items()}
        self.assertNotIn("authorization", hdrs)
        self.assertEqual(hdrs["x-keep"], "1")


class TestCertificates(ClientTestBase):

    def test_wrong_ca_refused(self):
        err = self.fails(self.s("/hello"), "--ca-file", self.pki.path("wrongca.pem"))
        self.assertIn("certificate not trusted", err)

    def test_system_bundle_does_not_trust_test_ca(self):
        err = self.fails(self.s("/hello"))
        self.assertTrue("certificate not trusted" in err or "no CA bundle" in err, err)

    def test_name_mismatch_refused(self):
        err = self.fails(self.s("/hello", self.https_other), "--ca-file", self.ca)
        self.assertIn("certificate name mismatch", err)

    def test_expired_refused(self):
        srv = tf.OriginServer(self.pki.server_context("expired"))
        try:
            err = self.fails(self.s("/hello", srv), "--ca-file", self.ca)
            self.assertIn("certificate expired", err)
        finally:
            srv.stop()

    def test_ip_address_cannot_match(self):
        err = self.fails("https://127.0.0.1:%d/hello" % self.https.port, "--ca-file", self.ca)
        self.assertIn("certificate name mismatch", err)

    def test_ssl_cert_file_honoured(self):
        out = self.ok(self.s("/hello"), env={"SSL_CERT_FILE": self.ca})
        self.assertEqual(out, "hello world\n")
        err = self.fails(self.s("/hello"), env={"SSL_CERT_FILE": self.pki.path("wrongca.pem")})
        self.assertIn("certificate not trusted", err)

    def test_ssl_cert_file_missing(self):
        err = self.fails(self.s("/hello"),
                         env={"SSL_CERT_FILE": os.path.join(self.dir, "missing.pem")})
        self.assertIn("SSL_CERT_FILE: cannot open CA file", err)

    def test_explicit_ca_file_beats_ssl_cert_file(self):
        out = self.ok(self.s("/hello"), "--ca-file", self.ca,
                      env={"SSL_CERT_FILE": self.pki.path("wrongca.pem")})
        self.assertEqual(out, "hello world\n")

    def test_bundle_with_several_anchors(self):
        self.assertEqual(self.ok(self.s("/hello"), "--ca-file", self.pki.path("bundle.pem")),
                         "hello world\n")

    def test_missing_ca_file(self):
        err = self.fails(self.s("/hello"), "--ca-file", os.path.join(self.dir, "nope.pem"))
        self.assertIn("CA file", err)

    def test_ca_file_without_certificates(self):
        junk = os.path.join(self.dir, "junk.pem")
        with open(junk, "w") as f:
            f.write("not a certificate\n")
        err = self.fails(self.s("/hello"), "--ca-file", junk)
        self.assertIn("no usable certificates", err)

    def test_plain_http_to_tls_port(self):
        err = self.fails("http://127.0.0.1:%d/hello" % self.https.port, "--timeout-ms",
                         str(int(scaled(3000))))
        self.assertTrue(err.strip())

    def test_tls_to_plain_http_port(self):
        err = self.fails("https://localhost:%d/hello" % self.http.port, "--ca-file", self.ca,
                         "--timeout-ms", str(int(scaled(3000))))
        self.assertIn("tls: unsupported protocol version (or not a TLS server)", err)


class TestFailures(ClientTestBase):

    def test_truncated_content_length(self):
        err = self.fails(self.h("/truncated"))
        self.assertIn("truncated response", err)

    def test_truncated_content_length_https(self):
        err = self.fails(self.s("/truncated"), "--ca-file", self.ca)
        self.assertIn("truncated response", err)

    def test_truncated_chunked(self):
        err = self.fails(self.h("/truncated-chunked"))
        self.assertIn("truncated response", err)

    def test_stall_after_headers_times_out(self):
        t0 = time.monotonic()
        err = self.fails(self.h("/stall"), "--timeout-ms", "500")
        self.assertIn("timeout", err)
        self.assertLess(time.monotonic() - t0, scaled(5))

    def test_stall_before_headers_times_out_https(self):
        t0 = time.monotonic()
        err = self.fails(self.s("/stall-head"), "--ca-file", self.ca, "--timeout-ms", "700")
        self.assertIn("timeout", err)
        self.assertLess(time.monotonic() - t0, scaled(5))

    def test_connection_refused(self):
        port = free_port()
        err = self.fails("http://127.0.0.1:%d/" % port)
        self.assertIn("connect to 127.0.0.1:%d: connection refused" % port, err)

    def test_connect_timeout(self):
        # a listener whose accept queue is full drops further SYNs
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(0)
        port = s.getsockname()[1]
        fillers = []
        try:
            for _ in range(3):
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.setblocking(False)
                try:
                    c.connect(("127.0.0.1", port))
                except BlockingIOError:
                    pass
                fillers.append(c)
            time.sleep(0.2)
            t0 = time.monotonic()
            err = self.fails("http://127.0.0.1:%d/" % port, "--timeout-ms", "500")
            self.assertIn("connect to 127.0.0.1:%d: timeout" % port, err)
            self.assertLess(time.monotonic() - t0, scaled(5))
        finally:
            for c in fillers:
                c.close()
            s.close()

    def test_localhost_tries_every_address(self):
        # localhost is 127.0.0.1 and ::1; the server listens on the first
        self.assertEqual(self.ok("http://localhost:%d/hello" % self.http.port), "hello world\n")

    def test_unknown_host(self):
        err = self.fails("http://no-such-host.invalid/", "--timeout-ms", "3000")
        self.assertIn("no-such-host.invalid", err)


class TestProxies(ClientTestBase):

    def setUp(self):
        self.proxy = tf.ConnectProxy()
        self.purl = "http://127.0.0.1:%d" % self.proxy.port

    def tearDown(self):
        self.proxy.stop()

    def test_https_through_connect_proxy(self):
        out = self.ok(self.s("/hello"), "--ca-file", self.ca, env={"HTTPS_PROXY": self.purl})
        self.assertEqual(out, "hello world\n")
        lines = [ln for ln, _ in self.proxy.seen]
        self.assertEqual(lines, ["CONNECT localhost:%d HTTP/1.1" % self.https.port])

    def test_big_body_through_tunnel(self):
        out = os.path.join(self.dir, "tunnel.bin")
        rc, _, err = self.fetch(self.s("/big"), "--ca-file", self.ca, "--output", out,
                                env={"https_proxy": self.purl}, timeout=60)
        self.assertEqual(rc, 0, err)
        with open(out, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), tf.BIG_SHA256)
        os.unlink(out)

    def test_proxy_credentials(self):
        self.proxy.stop()
        self.proxy = tf.ConnectProxy(require_auth="Basic dXNlcjpwQHNz")  # user:p@ss
        purl = "http://user:p%%40ss@127.0.0.1:%d" % self.proxy.port
        out = self.ok(self.s("/hello"), "--ca-file", self.ca, env={"HTTPS_PROXY": purl})
        self.assertEqual(out, "hello world\n")
        err = self.fails(self.s("/hello"), "--ca-file", self.ca,
                         env={"HTTPS_PROXY": "http://127.0.0.1:%d" % self.proxy.port})
        self.assertIn("407", err)

    def test_http_proxy_absolute_form(self):
        for var in ("HTTP_PROXY", "http_proxy"):
            out = self.ok(self.h("/hello"), env={var: self.purl})
            self.assertEqual(out, "proxied GET http://127.0.0.1:%d/hello HTTP/1.1\n"
                             % self.http.port)
        self.assertEqual(len(self.proxy.seen), 2)

    def test_http_proxy_not_used_for_https(self):
        out = self.ok(self.s("/hello"), "--ca-file", self.ca, env={"HTTP_PROXY": self.purl})
        self.assertEqual(out, "hello world\n")
        self.assertEqual(self.proxy.seen, [])

    def test_no_proxy_bypass(self):
        cases = ["127.0.0.1", "example.com, 127.0.0.1:9999", "*", "127.0.0.0/8"]
        for np in cases:
            out = self.ok(self.h("/hello"), env={"HTTP_PROXY": self.purl, "NO_PROXY": np})
            self.assertEqual(out, "hello world\n", np)
        out = self.ok(self.s("/hello"), "--ca-file", self.ca,
                      env={"HTTPS_PROXY": self.purl, "no_proxy": "example.com,.localhost"})
        self.assertEqual(out, "hello world\n")
        self.assertEqual(self.proxy.seen, [])

    def test_no_proxy_non_matching_still_proxies(self):
        out = self.ok(self.h("/hello"), env={"HTTP_PROXY": self.purl,
                                             "NO_PROXY": "example.com,127.0.0.2,1.2.3.0/24"})
        self.assertTrue(out.startswith("proxied GET "), out)

    def test_localhost_not_implicitly_exempt(self):
        dead = free_port()
        err = self.fails(self.h("/hello"), env={"HTTP_PROXY": "http://127.0.0.1:%d" % dead})
        self.assertIn("connect to proxy 127.0.0.1:%d" % dead, err)

    def test_no_proxy_flag(self):
        out = self.ok(self.h("/hello"), "--no-proxy", env={"HTTP_PROXY": self.purl})
        self.assertEqual(out, "hello world\n")
        self.assertEqual(self.proxy.seen, [])


if __name__ == "__main__":
    unittest.main()
