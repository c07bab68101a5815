"""run.py - runs every tests/integration/test_*.py against the binary in
$SANDBOX_AGENT_BIN and ends with exactly one line
"integration: N passed, M failed" (errors count as failures, skips as
neither). Exit status 0 iff nothing failed.

    SANDBOX_AGENT_BIN=$PWD/build/sandbox-agent python3 tests/integration/run.py [-v] [PATTERN...]

PATTERNs keep only the tests whose id (module.Class.method) contains one
of them as a substring. -v prints one line per test as it finishes."""

import faulthandler
import os
import socket
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


class Result(unittest.TestResult):
    """Prints failures as they happen (with tracebacks), counts outcomes."""

    def __init__(self, stream, verbose):
        super().__init__()
        self.stream = stream
        self.verbose = verbose
        self.passed = 0
        self.failed_ids = set()  # a test failing in body and tearDown counts once
        self.skips = []
        self._t0 = 0.0

    def _say(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()

    def startTest(self, test):
        super().startTest(test)
        self._t0 = time.monotonic()
        # a hung test shows where it hangs (the run itself goes on)
        faulthandler.dump_traceback_later(harness.scaled(300), exit=False)

    def stopTest(self, test):
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)

    def _elapsed(self):
        return time.monotonic() - self._t0

    @property
    def failed(self):
        return len(self.failed_ids)

    def _report(self, kind, test, err):
        self.failed_ids.add(test.id())
        text = self._exc_info_to_string(err, test) if isinstance(err, tuple) else str(err)
        self._say("%s: %s (%.1fs)\n%s" % (kind, _name(test), self._elapsed(), text.rstrip()))
        self._say("-" * 70)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1
        if self.verbose:
            self._say("ok %s (%.1fs)" % (_name(test), self._elapsed()))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._report("FAIL", test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._report("ERROR", test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.skips.append((_name(test), reason))
        self._say("skip %s: %s" % (_name(test), reason))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed += 1

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed_ids.add(test.id())
        self._say("FAIL: %s: unexpected success" % _name(test))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "FAIL" if issubclass(err[0], test.failureException) else "ERROR"
            # counted once per failing subtest
            self._report(kind, subtest, err)


def _name(test):
    tid = test.id()
    return tid


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


def main(argv):
    verbose = False
    patterns = []
    for a in argv:
        if a in ("-v", "--verbose"):
            verbose = True
        elif a.startswith("-k"):
            patterns.append(a[2:])
        else:
            patterns.append(a)
    patterns = [p for p in patterns if p]

    # a forgotten timeout must not hang the whole run
    socket.setdefaulttimeout(harness.scaled(60))

    loader = unittest.TestLoader()
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    tests = list(_flatten(suite))
    if patterns:
        tests = [t for t in tests if any(p in t.id() for p in patterns)]
    # Loader failures (syntax errors, import errors) appear as tests named
    # unittest.loader._FailedTest: they are kept and fail.
    ordered = unittest.TestSuite(tests)

    print("integration: binary %s, mode %s, %d tests"
          % (harness.BIN or "(SANDBOX_AGENT_BIN unset)", harness.MODE, len(tests)), flush=True)
    result = Result(sys.stdout, verbose)
    t0 = time.monotonic()
    try:
        ordered.run(result)
    finally:
        harness._kill_leftovers()
    took = time.monotonic() - t0
    if result.skips:
        print("skipped %d:" % len(result.skips))
        for name, reason in result.skips:
            print("  %s: %s" % (name, reason))
    print("took %.1fs" % took)
    print("integration: %d passed, %d failed" % (result.passed, result.failed), flush=True)
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
