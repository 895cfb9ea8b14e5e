#!/usr/bin/env python3
"""Tests the docs' example runner (run_examples.py) on the Markdown files in
fixtures/: what passes passes, and a failure names the file, the line, the
command as written and its output, so that the doc tests' messages can be
trusted when a doc breaks."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "run_examples.py")


def run(name, extra_env=None):
    env = dict(os.environ)
    env.pop("KZ_DOC_EXAMPLES", None)
    env.update(extra_env or {})
    r = subprocess.run([sys.executable, RUNNER, os.path.join(HERE, "fixtures", name)],
                       capture_output=True, text=True, env=env, timeout=300)
    return r.returncode, r.stdout + r.stderr


def expect(cond, what, out):
    if not cond:
        print("FAILED: %s\n--- runner output:\n%s" % (what, out))
        sys.exit(1)


rc, out = run("pass.md")
expect(rc == 0, "pass.md passes", out)
expect(out.count("\nok ") + out.startswith("ok ") == 5, "five blocks run", out)
expect("check tests/docs/fixtures/pass.md:41 (builds): not run" in out, "the builds block is checked, not run", out)
expect("scripts/test.sh parses" in out, "the builds block's script is parsed", out)
expect("skip  tests/docs/fixtures/pass.md:46" in out and "shows a placeholder only" in out,
       "a skip is reported with its reason", out)

rc, out = run("pass.md", {"KZ_DOC_NO_NETNS": "1"})
expect(rc == 0 and "no network namespace here" in out, "pass.md passes without a network namespace", out)

rc, out = run("fail.md")
expect(rc == 1, "fail.md fails", out)
expect("FAIL tests/docs/fixtures/fail.md:3 (sh): exit status 2" in out, "the failing block and status", out)
expect("tests/docs/fixtures/fail.md:5: the command as written:\n    kizuna collection add \\\n"
       "        --no-such-flag intel" in out, "the whole command, at its line", out)
expect("    | before\n" in out and "unknown option --no-such-flag" in out, "the output before and of the command", out)
expect("echo after" not in out and "    | after" not in out, "the block stops at the failure", out)
expect("ok    tests/docs/fixtures/fail.md:11" in out, "a later session still runs", out)
expect("FAIL tests/docs/fixtures/fail.md:20 (sh, session web): exit status 22" in out,
       "curl's HTTP error (401) is a failure", out)
expect("1 example block(s)" not in out and "3 example block(s), 2 failed" in out, "the summary counts", out)

rc, out = run("badmarker.md")
expect(rc == 1 and "badmarker.md:1: unknown example directive 'sesion'" in out, "a misspelt directive fails", out)

rc, out = run("recurse.md")
expect(rc == 1 and "started by a doc example" in out, "the runner refuses to run inside an example", out)

print("ok: run_examples.py passes, fails and reports as documented")
