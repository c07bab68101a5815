#!/usr/bin/env python3
"""install_bench.py - download + gunzip + untar throughput of
`sandbox-agent install-agent` against `curl | tar xz` for the same
artifact served by the same local HTTPS server (test CA, loopback).

Usage: install_bench.py BIN [--artifact FILE] [--rounds N]

The artifact is a codex-style release tarball (one executable inside)
built from FILE (default: the Amp binary of tests/e2e/node_modules if it
is there, else 64 MiB of generated, moderately compressible bytes).
Measures wall time per run, best of N alternating rounds; prints MB/s of
compressed input and of unpacked output. Our install also fdatasync()s
the file before renaming it into place; curl | tar does not sync.
Benchmarks measure; nothing here passes or fails."""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from installfixture import InstallWorld, machine, targz  # noqa: E402

DEFAULT_ARTIFACT = os.path.join(HERE, "..", "e2e", "node_modules", "@ampcode", "cli-linux-x64", "amp")


def generated(n):
    """n bytes that compress about 3:1 (text-like runs plus noise)."""
    words = [b"install", b"agent", b"inflate", b"window", b"stream", b"sandbox", b"tar", b"gzip"]
    out = bytearray()
    s = 1
    while len(out) < n:
        s = (s * 1103515245 + 12345) & 0xffffffff
        out += words[(s >> 16) % len(words)]
        out.append((s >> 8) & 0xff)
    return bytes(out[:n])


def timed(cmd, env=None, shell=False):
    t0 = time.monotonic()
    subprocess.run(cmd, env=env, shell=shell, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("--artifact", default=DEFAULT_ARTIFACT)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    binpath = os.path.abspath(a.bin)
    if os.path.isfile(a.artifact):
        with open(a.artifact, "rb") as f:
            payload = f.read()
        what = os.path.basename(a.artifact)
    else:
        payload = b"\x7fELF" + generated(64 << 20)
        what = "generated"
    _, target = machine()
    name = "codex-" + target
    print("building the artifact (%s, %.1f MiB) ..." % (what, len(payload) / 2**20), flush=True)
    tgz = targz([(name, payload, 0o755)])
    if not shutil.which("curl"):
        print("install_bench: curl is not installed")
        return 1
    with InstallWorld() as w:
        path = "/codex/latest/download/%s.tar.gz" % name
        w.route(path, body=tgz)
        url = w.url(path)
        tmp = tempfile.mkdtemp(prefix="sa-bench-")
        try:
            env = dict(os.environ)
            env.update(HOME=tmp, XDG_DATA_HOME=os.path.join(tmp, "data"),
                       SANDBOX_AGENT_CODEX_RELEASES_URL=w.url("/codex"))
            for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
                env.pop(k, None)
            ours_cmd = [binpath, "install-agent", "codex", "--reinstall", "--quiet-json",
                        "--ca-file", w.ca_file]
            out = os.path.join(tmp, "x")
            os.makedirs(out)
            curl_tar = "curl -sSf --cacert '%s' '%s' | tar xzf - -C '%s'" % (w.ca_file, url, out)
            curl_only = "curl -sSf --cacert '%s' -o /dev/null '%s'" % (w.ca_file, url)
            res = {"ours": [], "curl | tar xz": [], "curl -o /dev/null": []}
            for _ in range(a.rounds):
                res["ours"].append(timed(ours_cmd, env=env))
                res["curl | tar xz"].append(timed(curl_tar, shell=True))
                res["curl -o /dev/null"].append(timed(curl_only, shell=True))
            got = os.path.join(tmp, "data", "sandbox-agent", "bin", "codex")
            assert os.path.getsize(got) == len(payload), "installed size differs"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    mb_in, mb_out = len(tgz) / 1e6, len(payload) / 1e6
    print("artifact: %.1f MB compressed, %.1f MB unpacked; best of %d rounds" %
          (mb_in, mb_out, a.rounds))
    print("%-20s %8s %12s %12s" % ("", "seconds", "MB/s in", "MB/s out"))
    for k, v in res.items():
        t = min(v)
        print("%-20s %8.3f %12.1f %12.1f" % (k, t, mb_in / t, mb_out / t if "tar" in k or k == "ours" else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
