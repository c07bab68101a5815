"""test_install.py - agent installation: `install-agent` against a local
HTTPS server with a test CA (official artifact layouts and a fake npm
registry), its failure modes (each must leave the install dir as it
was), streaming (the artifact is checked, unpacked and written while it
arrives, in bounded memory), POST /v1/agents/{agent}/install through the
server (deferred answer, one child per agent), the version column of GET
/v1/agents, and one real install from the npm registry configured on
this machine."""

import glob
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness
from harness import Server, hermetic_env, scaled, wait_until
from installfixture import InstallWorld, Proxy, fake_exe, machine, sri512, targz

OS_ARCH, TARGET = machine()
MUSL = os.path.exists("/lib/ld-musl-x86_64.so.1") or os.path.exists("/lib/ld-musl-aarch64.so.1")
PLATS = [OS_ARCH, OS_ARCH + "-musl", OS_ARCH + "-baseline", OS_ARCH + "-baseline-musl"]
NO_PROXY_ENV = {k: None for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                  "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
                                  "NPM_CONFIG_REGISTRY", "npm_config_registry",
                                  "NPM_CONFIG_USERCONFIG", "npm_config_userconfig")}

W = None  # the InstallWorld shared by this module


def setUpModule():
    global W
    W = InstallWorld()
    claude = fake_exe("claude", "1.2.3")
    W.route("/claude/latest", body=b"1.2.3\n")
    W.route("/claude/1.2.3/manifest.json", body=json.dumps({"version": "1.2.3", "platforms": {
        p: {"checksum": hashlib.sha256(claude).hexdigest(), "size": len(claude)} for p in PLATS
    }}).encode())
    for p in PLATS:
        W.route("/claude/1.2.3/%s/claude" % p, body=claude)
    # a release whose manifest disagrees with the artifact
    W.route("/badsum/latest", body=b"2.0.0")
    W.route("/badsum/2.0.0/manifest.json", body=json.dumps({"platforms": {
        p: {"checksum": "00" * 32} for p in PLATS}}).encode())
    for p in PLATS:
        W.route("/badsum/2.0.0/%s/claude" % p, body=claude)
    # amp: version file, then a redirect chain to the artifact
    W.route("/amp/cli-version.txt", body=b"0.0.7\n")
    W.route("/amp/0.0.7/amp-%s" % OS_ARCH, redirect="/r1", status=302)
    W.route("/r1", redirect=W.url("/r2"), status=301)
    W.route("/r2", redirect="/files/amp", status=307)
    W.route("/files/amp", body=fake_exe("amp", "0.0.7"))
    # codex: the binary nested in a directory, served chunked
    codex_tgz = targz([("dist", None, 0o755),
                       ("dist/codex-%s" % TARGET, fake_exe("codex", "codex-cli 9.9.9"), 0o755),
                       ("dist/README.md", b"hello\n", 0o644)])
    W.route("/codex/latest/download/codex-%s.tar.gz" % TARGET, body=codex_tgz, chunked=True)
    W.route("/codex/download/rust-v9.9.8/codex-%s.tar.gz" % TARGET, body=targz(
        [("codex-%s" % TARGET, fake_exe("codex", "codex-cli 9.9.8"), 0o755)]))
    # opencode, for the proxy test
    oc = targz([("opencode", fake_exe("opencode", "1.0.0"), 0o755)])
    for p in PLATS:
        W.route("/opencode/latest/download/opencode-%s.tar.gz" % p, body=oc)
    # failure artifacts
    big = fake_exe("amp", "0.0.7") + b"#" * 200000
    W.route("/trunc/cli-version.txt", body=b"0.0.7")
    W.route("/trunc/0.0.7/amp-%s" % OS_ARCH, body=big, truncate=True)
    W.route("/stall/cli-version.txt", body=b"0.0.7")
    W.route("/stall/0.0.7/amp-%s" % OS_ARCH, body=big, stall=8)
    W.route("/html/cli-version.txt", body=b"0.0.7")
    W.route("/html/0.0.7/amp-%s" % OS_ARCH, body=b"<html>not here</html>")
    W.route("/evil/latest/download/codex-%s.tar.gz" % TARGET, body=targz(
        [("../evil", b"pwned\n", 0o755), ("codex-%s" % TARGET, fake_exe("codex", "x"), 0o755)]))
    W.route("/evilabs/latest/download/codex-%s.tar.gz" % TARGET, body=targz(
        [("/tmp/evil-abs", b"pwned\n", 0o755)]))
    import tarfile
    W.route("/evillink/latest/download/codex-%s.tar.gz" % TARGET, body=targz(
        [("link", None, 0o777, tarfile.SYMTYPE, "../../../etc"),
         ("codex-%s" % TARGET, fake_exe("codex", "x"), 0o755)]))
    W.route("/slow/latest", body=b"1.2.3")
    W.route("/slow/1.2.3/manifest.json", status=404)
    for p in PLATS:
        W.route("/slow/1.2.3/%s/claude" % p, body=claude, delay=1.0)

    # the fake npm registry
    def pkg(files):
        return targz([("package/" + n, d, m) for n, d, m in files])
    plat_names = [OS_ARCH, OS_ARCH + "-musl"]
    W.npm_package("@anthropic-ai/claude-code", {"9.9.9": {
        "tarball": pkg([("package.json", b"{}", 0o644)]),
        "optionalDependencies": {"@anthropic-ai/claude-code-" + p: "9.9.9" for p in plat_names},
    }}, "9.9.9")
    for p in plat_names:
        W.npm_package("@anthropic-ai/claude-code-" + p, {"9.9.9": {
            "tarball": pkg([("claude", fake_exe("claude", "9.9.9"), 0o755),
                            ("README.md", b"x", 0o644)]), "chunked": True}}, "9.9.9")
    codex_native = pkg([("vendor/%s/bin/codex" % TARGET, fake_exe("codex", "codex-cli 0.1.0"), 0o755),
                        ("vendor/%s/codex-path/rg" % TARGET, b"#!/bin/sh\n", 0o755)])
    W.npm_package("@openai/codex", {
        "0.1.0": {"tarball": pkg([("bin/codex.js", b"//\n", 0o644)]),
                  "optionalDependencies": {
                      "@openai/codex-" + OS_ARCH: "npm:@openai/codex@0.1.0-" + OS_ARCH}},
        "0.1.0-" + OS_ARCH: {"tarball": codex_native},
        # integrity that does not match its tarball
        "0.2.0": {"tarball": pkg([("bin/codex.js", b"//\n", 0o644)]),
                  "optionalDependencies": {
                      "@openai/codex-" + OS_ARCH: "npm:@openai/codex@0.2.0-" + OS_ARCH}},
        "0.2.0-" + OS_ARCH: {"tarball": codex_native, "integrity": sri512(b"something else")},
    }, "0.1.0")
    cli_js = b"#!/usr/bin/env node\nconsole.log(process.argv[2] === '--version' ? '3.0.0 (js)' : 'hi');\n"
    W.npm_package("@ampcode/cli", {"3.0.0": {
        "tarball": pkg([("cli.js", cli_js, 0o644), ("package.json", b'{"bin":{"amp":"cli.js"}}', 0o644),
                        ("lib", None, 0o755), ("lib/x.js", b"//\n", 0o644)]),
        "bin": {"amp": "cli.js"}}}, "3.0.0")


def tearDownModule():
    if W is not None:
        W.close()


def run_to_files(argv, env, cwd, timeout):
    """Runs argv to completion with stdout/stderr in files, not pipes: a
    pipe's EOF can be held up by unrelated descendants of this test
    process (other suites' fixtures), a process exit cannot. Returns
    (rc, stdout, stderr)."""
    with tempfile.TemporaryFile() as o, tempfile.TemporaryFile() as e:
        p = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                           timeout=scaled(timeout))
        o.seek(0)
        e.seek(0)
        return p.returncode, o.read().decode(), e.read().decode()


def listing(d):
    """Every path below d (relative), for before/after comparisons."""
    out = []
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(root, n), d))
    return sorted(out)


class InstallCase(unittest.TestCase):
    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="sa-inst-")
        self.bin = os.path.join(self.home, ".local", "share", "sandbox-agent", "bin")
        os.makedirs(self.bin)

    def tearDown(self):
        shutil.rmtree(self.home, ignore_errors=True)

    def env(self, **extra):
        e = dict(NO_PROXY_ENV)
        e["PATH"] = "/usr/bin:/bin"
        e.update(extra)
        return e

    def cli(self, args, timeout=30, **extra):
        return run_to_files([harness.BIN] + args, hermetic_env(self.home, self.env(**extra)),
                            self.home, timeout)

    def installed(self, name):
        return os.path.join(self.bin, name)

    def version_of(self, name):
        return run_to_files([self.installed(name), "--version"], None, self.home, 10)[1].strip()

    def assertInstalled(self, rc, out, err, name, version):
        self.assertEqual(rc, 0, "stdout=%r stderr=%r" % (out, err))
        path = self.installed(name)
        self.assertTrue(os.access(path, os.X_OK), listing(self.bin))
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o755)
        self.assertIn(version, self.version_of(name))
        # nothing else is left behind: no temporaries, no lock files
        self.assertEqual(listing(self.bin), [name])

    def assertFailedClean(self, rc, out, err, before, *needles):
        self.assertEqual(rc, 1, "stdout=%r stderr=%r" % (out, err))
        self.assertIn("sandbox-agent failed error=", err)
        for n in needles:
            self.assertIn(n, err)
        self.assertEqual(listing(self.bin), before)


class TestOfficial(InstallCase):
    """Official artifact layouts (spec 8.5) served by the local world."""

    def test_claude_direct_file_with_manifest(self):
        rc, out, err = self.cli(["install-agent", "claude", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_CLAUDE_RELEASES_URL=W.url("/claude"))
        self.assertInstalled(rc, out, err, "claude", "1.2.3")
        self.assertIn("sha256 checksum verified", err)
        self.assertIn("installed", out)
        self.assertIn("1.2.3", out)

    def test_ssl_cert_file_is_honoured(self):
        rc, out, err = self.cli(["install-agent", "claude"], SSL_CERT_FILE=W.ca_file,
                                SANDBOX_AGENT_CLAUDE_RELEASES_URL=W.url("/claude") + "/")
        self.assertInstalled(rc, out, err, "claude", "1.2.3")

    def test_amp_redirect_chain(self):
        rc, out, err = self.cli(["install-agent", "amp", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_AMP_RELEASES_URL=W.url("/amp"))
        self.assertInstalled(rc, out, err, "amp", "0.0.7")

    def test_codex_tar_gz_chunked(self):
        rc, out, err = self.cli(["install-agent", "codex", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_CODEX_RELEASES_URL=W.url("/codex"))
        self.assertInstalled(rc, out, err, "codex", "codex-cli 9.9.9")

    def test_codex_pinned_version(self):
        rc, out, err = self.cli(["install-agent", "codex", "--version", "rust-v9.9.8",
                                 "--ca-file", W.ca_file],
                                SANDBOX_AGENT_CODEX_RELEASES_URL=W.url("/codex"))
        self.assertInstalled(rc, out, err, "codex", "codex-cli 9.9.8")

    def test_opencode_through_connect_proxy(self):
        proxy = Proxy()
        try:
            rc, out, err = self.cli(["install-agent", "opencode", "--ca-file", W.ca_file],
                                    SANDBOX_AGENT_OPENCODE_RELEASES_URL=W.url("/opencode"),
                                    HTTPS_PROXY=proxy.url())
        finally:
            proxy.close()
        self.assertInstalled(rc, out, err, "opencode", "1.0.0")
        self.assertIn("localhost:%d" % W.port, proxy.targets)

    def test_already_installed_is_a_no_op(self):
        with open(self.installed("amp"), "wb") as f:
            f.write(b"#!/bin/sh\necho old\n")
        os.chmod(self.installed("amp"), 0o755)
        hits = W.hits_of("/amp/cli-version.txt")
        rc, out, err = self.cli(["install-agent", "amp", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_AMP_RELEASES_URL=W.url("/amp"))
        self.assertEqual(rc, 0, err)
        self.assertIn("already installed", out)
        self.assertEqual(W.hits_of("/amp/cli-version.txt"), hits)
        # --reinstall replaces it
        rc, out, err = self.cli(["install-agent", "amp", "-r", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_AMP_RELEASES_URL=W.url("/amp"))
        self.assertInstalled(rc, out, err, "amp", "0.0.7")

    def test_mock_placeholder(self):
        rc, out, err = self.cli(["install-agent", "mock"])
        self.assertEqual(rc, 0, err)
        with open(self.installed("mock"), "rb") as f:
            self.assertEqual(f.read(), b"mock")

    def test_unknown_agent(self):
        rc, out, err = self.cli(["install-agent", "nope"])
        self.assertEqual(rc, 1)
        self.assertIn("server error: unsupported agent: nope", err)

    def test_quiet_json(self):
        rc, out, err = self.cli(["install-agent", "claude", "--quiet-json", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_CLAUDE_RELEASES_URL=W.url("/claude"))
        self.assertEqual(rc, 0, err)
        res = json.loads(out)
        self.assertEqual(res, {"agent": "claude", "ok": True, "path": self.installed("claude"),
                               "installed": True})
        self.assertEqual(err, "")

    # -- failures: each leaves the install dir as it was

    def test_wrong_ca_refused(self):
        before = listing(self.bin)
        rc, out, err = self.cli(["install-agent", "claude", "--ca-file", W.other_ca_file],
                                SANDBOX_AGENT_CLAUDE_RELEASES_URL=W.url("/claude"))
        self.assertFailedClean(rc, out, err, before, "download failed")
        self.assertRegex(err.lower(), "certificate|trust")

    def test_truncated_download(self):
        before = listing(self.bin)
        rc, out, err = self.cli(["install-agent", "amp", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_AMP_RELEASES_URL=W.url("/trunc"))
        self.assertFailedClean(rc, out, err, before, "download failed", "truncated")

    def test_manifest_checksum_mismatch(self):
        before = listing(self.bin)
        rc, out, err = self.cli(["install-agent", "claude", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_CLAUDE_RELEASES_URL=W.url("/badsum"))
        self.assertFailedClean(rc, out, err, before, "sha256 checksum mismatch")

    def test_stall_times_out(self):
        before = listing(self.bin)
        t0 = time.monotonic()
        rc, out, err = self.cli(["install-agent", "amp", "--ca-file", W.ca_file, "--timeout-ms", "1000"],
                                SANDBOX_AGENT_AMP_RELEASES_URL=W.url("/stall"))
        self.assertFailedClean(rc, out, err, before, "download failed", "timeout")
        self.assertLess(time.monotonic() - t0, scaled(6))

    def test_stall_timeout_from_environment(self):
        before = listing(self.bin)
        rc, out, err = self.cli(["install-agent", "amp", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_AMP_RELEASES_URL=W.url("/stall"),
                                SANDBOX_AGENT_INSTALL_TIMEOUT_MS="800")
        self.assertFailedClean(rc, out, err, before, "timeout")

    def test_not_an_executable(self):
        before = listing(self.bin)
        rc, out, err = self.cli(["install-agent", "amp", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_AMP_RELEASES_URL=W.url("/html"))
        self.assertFailedClean(rc, out, err, before, "not an executable")

    def test_http_404(self):
        before = listing(self.bin)
        rc, out, err = self.cli(["install-agent", "amp", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_AMP_RELEASES_URL=W.url("/missing"))
        self.assertFailedClean(rc, out, err, before, "download failed: https://localhost",
                               "HTTP 404")

    def test_tarball_with_dotdot_refused(self):
        before = listing(self.bin)
        rc, out, err = self.cli(["install-agent", "codex", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_CODEX_RELEASES_URL=W.url("/evil"))
        self.assertFailedClean(rc, out, err, before, "unsafe path", "../evil")
        self.assertFalse(os.path.exists(os.path.join(os.path.dirname(self.bin), "evil")))

    def test_tarball_with_absolute_path_refused(self):
        before = listing(self.bin)
        rc, out, err = self.cli(["install-agent", "codex", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_CODEX_RELEASES_URL=W.url("/evilabs"))
        self.assertFailedClean(rc, out, err, before, "unsafe path")
        self.assertFalse(os.path.exists("/tmp/evil-abs"))

    def test_tarball_with_escaping_symlink_refused(self):
        before = listing(self.bin)
        rc, out, err = self.cli(["install-agent", "codex", "--ca-file", W.ca_file],
                                SANDBOX_AGENT_CODEX_RELEASES_URL=W.url("/evillink"))
        self.assertFailedClean(rc, out, err, before, "points outside")

    def test_concurrent_cli_installs_coalesce(self):
        """Two processes: the lock serializes them; the second finds the
        binary installed and does not download again."""
        env = hermetic_env(self.home, self.env(SANDBOX_AGENT_CLAUDE_RELEASES_URL=W.url("/slow")))
        hits = W.hits_of("/slow/latest")
        ps = [subprocess.Popen([harness.BIN, "install-agent", "claude", "--ca-file", W.ca_file],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for _ in range(2)]
        outs = [p.communicate(timeout=scaled(30)) for p in ps]
        for p, (o, e) in zip(ps, outs):
            self.assertEqual(p.returncode, 0, e)
        self.assertEqual(W.hits_of("/slow/latest") - hits, 1)
        joined = b"".join(o for o, _ in outs).decode()
        self.assertIn("already installed", joined)
        self.assertEqual(listing(self.bin), ["claude"])


class _HoldHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        w = self.server.hold
        r = w.routes.get(self.path)
        if r is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, held = r
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if not held:
                self.wfile.write(body)
                return
            # all but the last bytes, then hold the response open until
            # the test has looked at the client, then cut it short
            view = memoryview(body)[:len(body) - 4096]
            for k in range(0, len(view), 1 << 20):
                self.wfile.write(view[k:k + (1 << 20)])
            self.wfile.flush()
            w.release.wait(scaled(60))
        except OSError:
            pass
        self.close_connection = True


class HoldServer:
    """Plain HTTP on 127.0.0.1: small documents, and one artifact whose
    end is held back until release is set (then the connection closes,
    so the install fails as truncated)."""

    def __init__(self):
        self.routes = {}
        self.release = threading.Event()
        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), _HoldHandler)
        self.srv.daemon_threads = True
        self.srv.hold = self
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.release.set()
        self.srv.shutdown()
        self.srv.server_close()


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def noise(n):
    """n bytes that do not compress (so the artifact is as big as them)."""
    return hashlib.shake_256(b"sandbox-agent").digest(n)


class TestStreaming(InstallCase):
    """The artifact goes through the checks, gunzip and tar into the
    temporary file as it arrives: while the server still holds the end
    of a big artifact, most of it is already on disk and the installer's
    peak memory is a small fraction of it; cutting it off then leaves
    nothing behind."""

    BIG = 48 << 20
    MAX_RSS_KB = {"rel": 16 << 10, "san": 64 << 10}[harness.MODE]  # ~0.5 / ~10 MiB seen

    def held_install(self, agent, env, min_written):
        before = listing(self.bin)
        with tempfile.TemporaryFile() as o, tempfile.TemporaryFile() as e:
            p = subprocess.Popen([harness.BIN, "install-agent", agent],
                                 env=hermetic_env(self.home, self.env(**env)), cwd=self.home,
                                 stdin=subprocess.DEVNULL, stdout=o, stderr=e)
            try:
                def written():
                    tmp = glob.glob(os.path.join(self.bin, ".%s.tmp-*" % agent))
                    return bool(tmp) and os.path.getsize(tmp[0]) >= min_written
                ok = wait_until(lambda: written() or p.poll() is not None, 60) and written()
                hwm = vm_hwm_kb(p.pid)
                self.H.release.set()
                rc = p.wait(timeout=scaled(60))
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            e.seek(0)
            err = e.read().decode()
        self.assertTrue(ok, "the temporary file did not grow while downloading: %r" % err)
        self.assertLess(hwm, self.MAX_RSS_KB, "peak RSS %d KB while %d MiB arrived" %
                        (hwm, min_written >> 20))
        self.assertFailedClean(rc, "", err, before, "download failed", "truncated")

    def setUp(self):
        super().setUp()
        self.H = HoldServer()
        self.addCleanup(self.H.close)

    def test_raw_artifact_with_sha256(self):
        body = fake_exe("claude", "1.2.3") + noise(self.BIG)
        self.H.routes["/c/latest"] = (b"1.2.3\n", False)
        self.H.routes["/c/1.2.3/manifest.json"] = (json.dumps({"platforms": {
            p: {"checksum": hashlib.sha256(body).hexdigest()} for p in PLATS}}).encode(), False)
        for p in PLATS:
            self.H.routes["/c/1.2.3/%s/claude" % p] = (body, True)
        self.held_install("claude", {"SANDBOX_AGENT_CLAUDE_RELEASES_URL": self.H.url("/c")},
                          self.BIG - (8 << 20))

    def test_tar_gz_artifact(self):
        raw = io.BytesIO()
        data = fake_exe("codex", "x") + noise(self.BIG)
        with tarfile.open(fileobj=raw, mode="w") as tf:
            ti = tarfile.TarInfo("codex-" + TARGET)
            ti.size, ti.mode = len(data), 0o755
            tf.addfile(ti, io.BytesIO(data))
        tgz = gzip.compress(raw.getvalue(), compresslevel=1)
        self.H.routes["/x/latest/download/codex-%s.tar.gz" % TARGET] = (tgz, True)
        self.held_install("codex", {"SANDBOX_AGENT_CODEX_RELEASES_URL": self.H.url("/x")},
                          self.BIG - (8 << 20))

    def test_streamed_install_completes(self):
        """The same server without the hold: the install goes through,
        and the end of the download is reported on stderr."""
        body = fake_exe("amp", "0.0.9") + noise(4 << 20)
        self.H.routes["/a/cli-version.txt"] = (b"0.0.9", False)
        self.H.routes["/a/0.0.9/amp-%s" % OS_ARCH] = (body, False)
        rc, out, err = self.cli(["install-agent", "amp"],
                                SANDBOX_AGENT_AMP_RELEASES_URL=self.H.url("/a"))
        self.assertInstalled(rc, out, err, "amp", "0.0.9")
        self.assertRegex(err, r"amp: downloaded 4\.0 MiB in [0-9.]+ s \([0-9.]+ [KM]iB/s\)")
        with open(self.installed("amp"), "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).digest(), hashlib.sha256(body).digest())


class TestNpmFake(InstallCase):
    """--source npm against the fake registry."""

    def test_claude_platform_package(self):
        rc, out, err = self.cli(["install-agent", "claude", "--source", "npm", "--registry",
                                 W.registry(), "--ca-file", W.ca_file])
        self.assertInstalled(rc, out, err, "claude", "9.9.9")
        self.assertIn("sha512 checksum verified", err)
        plat = "@anthropic-ai%2fclaude-code-" + OS_ARCH + ("-musl" if MUSL else "")
        self.assertGreaterEqual(W.hits_of("/npm/" + plat), 1)
        accept = [h for p, h in W.requests if p == "/npm/@anthropic-ai%2fclaude-code"]
        self.assertIn("application/vnd.npm.install-v1+json", accept[-1].get("Accept", ""))

    def test_codex_alias_dependency(self):
        rc, out, err = self.cli(["install-agent", "codex", "--source", "npm", "--ca-file", W.ca_file],
                                NPM_CONFIG_REGISTRY=W.registry())
        self.assertInstalled(rc, out, err, "codex", "codex-cli 0.1.0")

    def test_registry_from_npmrc(self):
        with open(os.path.join(self.home, ".npmrc"), "w") as f:
            f.write("; comment\nfund=false\nregistry = %s\n" % W.registry())
        rc, out, err = self.cli(["install-agent", "codex", "--source", "npm", "--ca-file", W.ca_file])
        self.assertInstalled(rc, out, err, "codex", "codex-cli 0.1.0")

    def test_no_registry_configured(self):
        before = listing(self.bin)
        rc, out, err = self.cli(["install-agent", "codex", "--source", "npm"])
        self.assertFailedClean(rc, out, err, before, "no npm registry configured")

    def test_wrong_integrity_installs_nothing(self):
        before = listing(self.bin)
        rc, out, err = self.cli(["install-agent", "codex", "--source", "npm", "--version", "0.2.0",
                                 "--registry", W.registry(), "--ca-file", W.ca_file])
        self.assertFailedClean(rc, out, err, before, "sha512 checksum mismatch")

    def test_unknown_version(self):
        before = listing(self.bin)
        rc, out, err = self.cli(["install-agent", "codex", "--source", "npm", "--version", "7.7.7",
                                 "--registry", W.registry(), "--ca-file", W.ca_file])
        self.assertFailedClean(rc, out, err, before, "version 7.7.7 of @openai/codex not found")

    @unittest.skipUnless(shutil.which("node"), "node is not installed")
    def test_javascript_entry_gets_a_launcher(self):
        rc, out, err = self.cli(["install-agent", "amp", "--source", "npm", "--registry",
                                 W.registry(), "--ca-file", W.ca_file])
        self.assertEqual(rc, 0, err)
        with open(self.installed("amp")) as f:
            launcher = f.read()
        self.assertTrue(launcher.startswith("#!/bin/sh"), launcher)
        self.assertIn("exec node", launcher)
        self.assertEqual(self.version_of("amp"), "3.0.0 (js)")
        pkg = os.path.join(os.path.dirname(self.bin), "npm", "amp")
        self.assertEqual(listing(pkg), ["cli.js", "lib", "lib/x.js", "package.json"])
        self.assertIn("needs node", err)


class TestServerInstall(InstallCase):
    """POST /v1/agents/{agent}/install: a child per agent, deferred answer."""

    def server(self, **env):
        e = self.env(SSL_CERT_FILE=W.ca_file, **env)
        s = Server(env=e)
        self.addCleanup(s.close)
        return s

    def sbin(self, s, name):
        return os.path.join(s.home, ".local", "share", "sandbox-agent", "bin", name)

    def test_install_then_list_with_version(self):
        s = self.server(SANDBOX_AGENT_CLAUDE_RELEASES_URL=W.url("/claude"))
        st, body, _ = s.json("POST", "/v1/agents/claude/install", {})
        self.assertEqual(st, 204, body)
        self.assertTrue(os.access(self.sbin(s, "claude"), os.X_OK))

        def claude():
            st, body, _ = s.json("GET", "/v1/agents")
            self.assertEqual(st, 200)
            return [a for a in body["agents"] if a["id"] == "claude"][0]
        c = wait_until(lambda: claude().get("version") and claude(), 10)
        self.assertTrue(c, claude())
        self.assertEqual(c["version"], "1.2.3")
        self.assertTrue(c["installed"])
        self.assertEqual(c["path"], self.sbin(s, "claude"))
        # already installed: answered at once, nothing downloaded
        hits = W.hits_of("/claude/latest")
        st, body, _ = s.json("POST", "/v1/agents/claude/install", {})
        self.assertEqual(st, 204)
        self.assertEqual(W.hits_of("/claude/latest"), hits)

    def test_concurrent_requests_share_one_child(self):
        s = self.server(SANDBOX_AGENT_CLAUDE_RELEASES_URL=W.url("/slow"))
        hits = W.hits_of("/slow/latest")
        results = []

        def post():
            results.append(s.json("POST", "/v1/agents/claude/install", {"reinstall": True},
                                  timeout=30)[0])
        ts = [threading.Thread(target=post) for _ in range(3)]
        for t in ts:
            t.start()
            time.sleep(0.05)
        # the server keeps answering while the install runs
        st, _, _ = s.json("GET", "/v1/health")
        self.assertEqual(st, 200)
        for t in ts:
            t.join(scaled(30))
        self.assertEqual(results, [204, 204, 204])
        self.assertEqual(W.hits_of("/slow/latest") - hits, 1)

    def test_failure_is_install_failed(self):
        s = self.server(SANDBOX_AGENT_AMP_RELEASES_URL=W.url("/missing"))
        st, body, _ = s.json("POST", "/v1/agents/amp/install", {})
        self.assertEqual(st, 500, body)
        self.assertEqual(body["type"], "urn:sandbox-agent:error:install_failed")
        self.assertIn("download failed: https://localhost", body["details"]["stderr"])
        self.assertEqual(listing(os.path.dirname(self.sbin(s, "amp"))), [])

    def test_mock_is_204(self):
        s = self.server()
        st, body, _ = s.json("POST", "/v1/agents/mock/install", {"reinstall": True})
        self.assertEqual(st, 204)

    def test_client_gone_while_installing(self):
        s = self.server(SANDBOX_AGENT_CLAUDE_RELEASES_URL=W.url("/slow"))
        body = b"{}"
        with s.conn() as c:
            c.send(b"POST /v1/agents/claude/install HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n" + body)
            time.sleep(0.3)
        # the install still completes, and the server is fine
        self.assertTrue(wait_until(lambda: os.path.exists(self.sbin(s, "claude")), 15))
        st, _, _ = s.json("GET", "/v1/health")
        self.assertEqual(st, 200)


class TestNpmReal(InstallCase):
    """One real package from the npm registry configured on this machine."""

    PKG_VERSION = "0.0.1790142911-g7618fb"  # @ampcode/cli: the smallest of the four (42 MB)

    def test_amp_from_configured_registry(self):
        npm = shutil.which("npm")
        reg = ""
        if npm:
            try:
                reg = subprocess.run([npm, "config", "get", "registry"], capture_output=True,
                                     timeout=30).stdout.decode().strip()
            except (OSError, subprocess.TimeoutExpired):
                reg = ""
        if not reg or reg in ("undefined", "null"):
            print("\nskip: no npm registry configured (npm config get registry gave %r)" % reg)
            self.skipTest("no npm registry configured")
        rc, out, err = self.cli(["install-agent", "amp", "--source", "npm", "--registry", reg,
                                 "--version", self.PKG_VERSION], timeout=240,
                                SSL_CERT_FILE=os.environ.get("SSL_CERT_FILE"))
        self.assertInstalled(rc, out, err, "amp", self.PKG_VERSION)


if __name__ == "__main__":
    unittest.main()
