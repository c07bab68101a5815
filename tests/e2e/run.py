"""run.py - runs the end-to-end suite: tests/e2e/setup.sh first (installs the
pinned agent CLIs), then every tests/e2e/test_*.py with unittest. Prints
failures as they happen and skip reasons at the end, and ends with exactly
one line "e2e: N passed, M failed" (errors count as failures; skips count
as neither). Exit status 0 iff nothing failed.

    SANDBOX_AGENT_BIN=$PWD/build/sandbox-agent SANDBOX_AGENT_TEST_MODE=rel \\
        python3 tests/e2e/run.py [-v] [--no-setup] [PATTERN...]

PATTERNs keep only the tests whose id (module.Class.method) contains one of
them. -v prints a line per passing test. SANDBOX_AGENT_TEST_MODE=san
multiplies every timeout by 3 (e2elib.scaled).

When setup.sh fails because npm is missing altogether, the tests run and
the ones needing a CLI skip (e2elib.cli_path). When it fails otherwise
(npm ci error, broken install), every test counts as failed with setup's
message, except tests in modules that set E2E_NEEDS_AGENTS = False (the
mock's own tests), which still run."""

import faulthandler
import os
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402

NPM_MISSING = 2  # setup.sh's exit code when npm/node are absent


class Result(unittest.TestResult):
    """Prints failures as they happen (with tracebacks), counts outcomes."""

    def __init__(self, stream, verbose):
        super().__init__()
        self.stream = stream
        self.verbose = verbose
        self.passed = 0
        self.failed_ids = []
        self.skips = []
        self._t0 = 0.0

    def _say(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()

    def startTest(self, test):
        super().startTest(test)
        self._t0 = time.monotonic()
        # a hung test shows where it hangs (the run goes on)
        faulthandler.dump_traceback_later(e2elib.scaled(600), exit=False)

    def stopTest(self, test):
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)

    @property
    def failed(self):
        return len(self.failed_ids)

    def _fail(self, kind, test, err):
        if test.id() not in self.failed_ids:  # body + cleanup failing counts once
            self.failed_ids.append(test.id())
        text = self._exc_info_to_string(err, test) if isinstance(err, tuple) else str(err)
        self._say("%s: %s (%.1fs)\n%s" % (kind, test.id(), time.monotonic() - self._t0,
                                          text.rstrip()))
        self._say("-" * 70)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1
        if self.verbose:
            self._say("ok %s (%.1fs)" % (test.id(), time.monotonic() - self._t0))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail("FAIL", test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail("ERROR", test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.skips.append((test.id(), reason))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed += 1

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._fail("FAIL", test, "unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "FAIL" if issubclass(err[0], test.failureException) else "ERROR"
            self._fail(kind, subtest, err)


class SetupFailed(unittest.TestCase):
    """Stands in for a test that cannot run because setup.sh failed."""

    def __init__(self, test_id, reason):
        super().__init__("runTest")
        self._id = test_id
        self._reason = reason

    def id(self):
        return self._id

    def runTest(self):
        self.fail("e2e setup failed, test not run: " + self._reason)


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


def needs_agents(test):
    mod = sys.modules.get(type(test).__module__)
    return getattr(mod, "E2E_NEEDS_AGENTS", True)


def run_setup():
    """Runs setup.sh; returns (exit code, output)."""
    try:
        p = subprocess.run(["sh", os.path.join(HERE, "setup.sh")], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800)
        out = p.stdout.decode("utf-8", "replace")
        return p.returncode, out
    except subprocess.TimeoutExpired as e:
        return 124, (e.stdout or b"").decode("utf-8", "replace") + "\nsetup.sh timed out"


def main(argv):
    verbose, setup, patterns = False, True, []
    for a in argv:
        if a in ("-v", "--verbose"):
            verbose = True
        elif a == "--no-setup":
            setup = False
        elif a:
            patterns.append(a[2:] if a.startswith("-k") else a)
    patterns = [p for p in patterns if p]

    setup_error = None
    if setup:
        rc, out = run_setup()
        sys.stdout.write(out if out.endswith("\n") or not out else out + "\n")
        if rc == NPM_MISSING:
            print("e2e: npm not available; agent tests will be skipped")
        elif rc != 0:
            said = [ln for ln in out.splitlines() if ln.startswith("e2e setup:")]
            setup_error = "setup.sh exited %d%s (its output is printed above)" % (
                rc, (": " + said[-1][len("e2e setup:"):].strip()) if said else "")

    socket.setdefaulttimeout(e2elib.scaled(120))  # a forgotten timeout must not hang
    loader = unittest.TestLoader()
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    tests = list(flatten(suite))
    if patterns:
        tests = [t for t in tests if any(p in t.id() for p in patterns)]
    if setup_error:
        tests = [t if not needs_agents(t) else SetupFailed(t.id(), setup_error) for t in tests]

    print("e2e: binary %s, mode %s, %d tests" % (e2elib.BIN, e2elib.MODE, len(tests)),
          flush=True)
    result = Result(sys.stdout, verbose)
    t0 = time.monotonic()
    unittest.TestSuite(tests).run(result)
    if result.skips:
        print("skipped %d:" % len(result.skips))
        for name, reason in result.skips:
            print("  %s: %s" % (name, reason))
    if result.failed_ids:
        print("failed %d:" % len(result.failed_ids))
        for name in result.failed_ids:
            print("  " + name)
    print("took %.1fs" % (time.monotonic() - t0))
    print("e2e: %d passed, %d failed" % (result.passed, result.failed), flush=True)
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
