#!/usr/bin/env python3
"""Runs the shell examples of a Markdown file as written, so the docs cannot rot.

Usage: run_examples.py [--list] FILE.md...   (CTest runs it once per doc file;
KIZUNA names the binary under test, KZ_SOURCE_DIR the repository, KZ_BUILD_DIR
the build tree.) Standard library only.

The convention (docs/CONTRIBUTING.md says the same for writers):

* Every fenced block whose info string is sh, bash, shell or console is an
  example. In console blocks the lines starting with "$ " are the commands
  (a line ending in "\\" continues on the next); the other lines show output and
  are not checked. Other blocks (json, python, yaml, plain ```) are not run.
* Every command must exit 0. The block runs in bash with an ERR trap: the first
  command that fails stops the block's session and is reported with the file,
  the line, the command as written, what was run in its place (when a
  replacement applied) and the session's output.
* An HTML comment on the line before the fence (blank lines between are
  allowed) changes how a block runs. Its first line holds directives
  separated by ";":
      <!-- example: session fed; exit 1 -->
    skip: REASON        not run; the reason is printed (keep these few)
    session NAME        blocks of one file with the same NAME share one shell
                        (variables, working directory, background servers);
                        a block without a session gets a shell of its own
    background URL      run the block in the background (it ends in a server,
                        as "in another terminal, run kizuna serve" does) and go
                        on once URL answers (any HTTP status, TLS unverified);
                        it is stopped when the session ends
    builds[: REASON]    the block builds the project or runs for long (demo,
                        test and benchmark commands): not run, to keep the
                        suite from recursing; each command's program must exist
                        (on PATH or in the repository) and each repository
                        script it runs must parse (sh -n, bash -n, python)
    exit N[,M]          these exit statuses count as success too (kizuna match
                        exits 1 when it finds something)
    requires PATH       skip, saying so, when PATH (relative to the working
                        directory) does not exist, e.g. ../shared/data
    timeout SECONDS     the block's time limit (default 120)
  The comment's further lines are either "replace: OLD => NEW", which
  replaces the text OLD of the block by NEW before it runs (a placeholder such
  as kz_... or TOKEN-ID by a value of the session; NEW may use $(...)), or
  hidden setup: shell lines run in the session just before the block, to make
  the situation the prose describes (a node, a log file, a second node).
  Hidden setup may call kz_wait_http URL [PID] to wait for a server.
* Each session runs in a fresh temporary folder laid out like a clone of the
  repository: its working directory holds symbolic links to the repository's
  top-level files and build -> the build tree, and ../shared is the shared
  data when there is one; HOME is a fresh folder, KIZUNA_HOME is
  ./kizuna-home, and kizuna (the binary under test) is first on PATH.
  HOME/.curlrc makes curl fail (exit status 22) on an HTTP error status, so
  a curl example that gets a 404 fails as it should; mark one that shows an
  error with "exit 22".
* Paths of a production layout (/srv, /opt, /var/log, /var/lib/suricata,
  /etc/kizuna) are moved under the session's folder, in the commands and the
  hidden setup alike; the example hosts kizuna.example, jp.example and
  in.example are localhost (the certificate kizuna init makes names it). Each
  session runs in a network namespace of its own when the system allows one
  (unshare), so the docs' port 8470 never meets another test or a running
  node; otherwise (or with KZ_DOC_NO_NETNS=1) doc tests take a lock and run
  one at a time. Within a file, sessions run one after the other, each to its
  end, in the order they first appear.

The harness never runs a block marked builds: a doc test that ran
scripts/test.sh would run the doc tests again.
"""
import fcntl
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

EXAMPLE_LANGS = {"sh", "bash", "shell", "console"}
DIRECTIVES = {"skip", "session", "background", "builds", "exit", "requires", "timeout"}
SYSTEM_PREFIXES = ["/srv", "/opt", "/var/log", "/var/lib/suricata", "/etc/kizuna"]
EXAMPLE_HOSTS = ["kizuna.example", "jp.example", "in.example"]
DEFAULT_TIMEOUT = 120
READY_TIMEOUT = 60
OUTPUT_TAIL = 60  # lines of a session's output shown with a failure


class DocError(Exception):
    """A malformed marker: the doc is wrong, whatever its commands do."""


class Block:
    def __init__(self, path, fence_line, lang, lines, first_line):
        self.path = path
        self.fence_line = fence_line  # 1-based line of the opening fence
        self.lang = lang
        self.lines = lines  # the block's raw lines
        self.first_line = first_line  # 1-based doc line of lines[0]
        self.directives = {}
        self.replacements = []
        self.setup = []
        self.script = []  # shell lines to run
        self.line_map = []  # script line index -> doc line
        self.shown = []  # script line index -> the line as written

    @property
    def where(self):
        return "%s:%d" % (self.path, self.fence_line)


def parse_marker(text, path, lineno):
    """Reads an <!-- example: ... --> comment into directives, replacements, setup."""
    body = text[len("<!-- example:"):]
    body = body[: body.rfind("-->")]
    first, _, rest = body.partition("\n")
    directives = {}
    for part in first.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, arg = part.partition(":") if ":" in part.split(" ")[0] else part.partition(" ")
        name = name.strip()
        if name not in DIRECTIVES:
            raise DocError("%s:%d: unknown example directive %r (known: %s)"
                           % (path, lineno, name, ", ".join(sorted(DIRECTIVES))))
        directives[name] = arg.strip()
    if "skip" in directives and not directives["skip"]:
        raise DocError("%s:%d: skip needs a reason: <!-- example: skip: REASON -->" % (path, lineno))
    for name in ("session", "background", "requires", "timeout", "exit"):
        if name in directives and not directives[name]:
            raise DocError("%s:%d: %s needs a value" % (path, lineno, name))
    replacements, setup = [], []
    for line in rest.split("\n"):
        if line.strip().startswith("replace:"):
            spec = line.strip()[len("replace:"):]
            if " => " not in spec:
                raise DocError("%s:%d: replace needs 'OLD => NEW'" % (path, lineno))
            old, new = spec.split(" => ", 1)
            replacements.append((old.strip(), new.strip()))
        elif line.strip():
            setup.append(line)
    return directives, replacements, setup


def parse_doc(path, text):
    """The doc's example blocks, with their markers applied."""
    lines = text.split("\n")
    blocks = []
    i = 0
    fence_re = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`]*)")
    while i < len(lines):
        m = fence_re.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3).lower()
        start = i
        j = i + 1
        while j < len(lines) and not re.match(r"^\s*" + re.escape(fence[0]) + "{%d,}\\s*$" % len(fence), lines[j]):
            j += 1
        body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip() for ln in lines[i + 1:j]]
        # the marker: an HTML comment ending on the line before the fence
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = None
        if k >= 0 and lines[k].rstrip().endswith("-->"):
            m0 = k
            while m0 >= 0 and "<!--" not in lines[m0]:
                m0 -= 1
            text_c = "\n".join(ln.strip() if n == m0 else ln for n, ln in enumerate(lines[m0:k + 1], m0))
            text_c = text_c[text_c.find("<!--"):]
            if text_c.startswith("<!-- example:"):
                marker = (text_c, m0 + 1)
        if lang in EXAMPLE_LANGS:
            b = Block(path, start + 1, lang, body, start + 2)
            if marker:
                b.directives, b.replacements, b.setup = parse_marker(marker[0], path, marker[1])
            to_script(b)
            blocks.append(b)
        elif marker:
            raise DocError("%s:%d: an example marker before a ```%s block, which is not run "
                           "(examples are sh, bash, shell or console)" % (path, start + 1, lang or ""))
        i = j + 1
    return blocks


def to_script(b):
    """The shell lines of a block, each mapped back to its doc line."""
    if b.lang != "console":
        for n, line in enumerate(b.lines):
            b.script.append(line)
            b.shown.append(line)
            b.line_map.append(b.first_line + n)
        return
    cont = False
    for n, line in enumerate(b.lines):
        if cont:
            cmd = line[2:] if line.startswith("> ") else line
        elif line.startswith("$ "):
            cmd = line[2:]
        else:
            continue  # output shown in the doc: not checked
        cont = cmd.rstrip().endswith("\\")
        b.script.append(cmd)
        b.shown.append(line)
        b.line_map.append(b.first_line + n)


def relocate(text, root):
    """Moves production paths under the session folder and example hosts to localhost."""
    for p in SYSTEM_PREFIXES:
        text = re.sub(r"(?<![\w./$-])" + re.escape(p) + r"(?=/|\b|$)", root + p, text)
    for h in EXAMPLE_HOSTS:
        text = re.sub(r"(?<![\w.-])" + re.escape(h) + r"(?![\w-])", "localhost", text)
    return text


def rewrite(line, b, root):
    for old, new in b.replacements:
        line = line.replace(old, new)
    return relocate(line, root)


# --- network namespace -------------------------------------------------------

LO_UP = r"""
import fcntl, os, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
req = struct.pack("16sH22x", b"lo", 0)
flags = struct.unpack("16sH22x", fcntl.ioctl(s, 0x8913, req))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))
os.execvp(sys.argv[1], sys.argv[1:])
"""


def netns_prefix():
    """The command prefix that gives a session its own loopback, or None."""
    base = ["unshare", "--net"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    if not shutil.which("unshare"):
        return None
    try:
        r = subprocess.run(base + [sys.executable, "-c", LO_UP, "true"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return base + [sys.executable, "-c", LO_UP] if r.returncode == 0 else None


# --- the session shell -------------------------------------------------------

PRELUDE = r"""
__kz_block=0; __kz_phase=setup; __kz_ok=0
__kz_err() {
    case ",$__kz_ok," in *",$1,"*) return 0 ;; esac
    printf 'fail\t%s\t%s\t%s\t%s\t%s\n' "$__kz_block" "$__kz_phase" "$1" "$2" "$(printf %s "$3" | tr '\t\n' '  ')" >&$KZ_CTL_FD
    exit "$1"
}
trap '__kz_err $? $LINENO "$BASH_COMMAND"' ERR
kz_wait_http() {
    python3 "$KZ_DOC_TOOLS/wait_http.py" "$1" "${2:-0}" "$KZ_READY_TIMEOUT"
}
"""

# curl in the examples: an HTTP error is a failure (exit status 22), as a
# reader would see it, and no progress meter in the output shown on failure
CURLRC = "fail-with-body\nsilent\nshow-error\n"

WAIT_HTTP = r"""
import os, ssl, sys, time, urllib.error, urllib.request
url, pid, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

def alive(p):
    try:
        with open("/proc/%d/stat" % p) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

end = time.monotonic() + limit
while time.monotonic() < end:
    if pid and not alive(pid):
        sys.exit("the background block ended before %s answered" % url)
    try:
        urllib.request.urlopen(url, timeout=2, context=ctx).close()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except (OSError, urllib.error.URLError):
        time.sleep(0.05)  # polling interval while the server starts, not a wait for it
sys.exit("%s did not answer within %d s" % (url, limit))
"""


def mirror_build(build, dest):
    """build/ of the session: links to the build tree's programs, never the tree
    itself, so that an example that configures or builds cannot touch it."""
    for top, dirs, files in os.walk(build):
        dirs[:] = [d for d in dirs if d not in ("CMakeFiles", "Testing") and not d.startswith(".")]
        for name in files:
            src = os.path.join(top, name)
            if os.access(src, os.X_OK) and not name.endswith((".so", ".a", ".sh", ".cmake")):
                rel = os.path.relpath(src, build)
                os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
                os.symlink(src, os.path.join(dest, rel))


class Session:
    def __init__(self, name, netns, env_base, repo, build):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="kzdoc-")
        self.root = os.path.join(self.dir, "root")
        self.cwd = os.path.join(self.dir, "kizuna")
        self.tools = os.path.join(self.dir, "tools")
        for d in [self.cwd, self.tools, os.path.join(self.dir, "home")] + \
                [self.root + p for p in SYSTEM_PREFIXES]:
            os.makedirs(d, exist_ok=True)
        for entry in os.listdir(repo):
            if entry in (".git", "build", "kizuna-home") or entry.startswith("build-"):
                continue
            os.symlink(os.path.join(repo, entry), os.path.join(self.cwd, entry))
        if build:
            mirror_build(build, os.path.join(self.cwd, "build"))
        shared = os.path.join(os.path.dirname(repo), "shared")
        if os.path.isdir(shared):
            os.symlink(shared, os.path.join(self.dir, "shared"))
        with open(os.path.join(self.dir, "home", ".curlrc"), "w") as f:
            f.write(CURLRC)
        with open(os.path.join(self.tools, "wait_http.py"), "w") as f:
            f.write(WAIT_HTTP)
        self.log_path = os.path.join(self.dir, "session.log")
        self.log = open(self.log_path, "wb")
        rfd, wfd = os.pipe()
        env = dict(env_base)
        env.update({"HOME": os.path.join(self.dir, "home"), "KIZUNA_HOME": os.path.join(self.cwd, "kizuna-home"),
                    "KZ_CTL_FD": str(wfd), "KZ_DOC_TOOLS": self.tools, "KZ_DOC_ROOT": self.root,
                    "KZ_READY_TIMEOUT": str(READY_TIMEOUT), "PWD": self.cwd, "KZ_DOC_EXAMPLES": "1"})
        cmd = (netns or []) + ["bash", "--noprofile", "--norc"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.cwd, env=env, pass_fds=(wfd,), start_new_session=True)
        os.close(wfd)
        self.ctl = rfd
        os.set_blocking(self.ctl, False)
        self.buf = b""
        self.pending = []
        self.nblocks = 0
        self.send(PRELUDE)

    def send(self, text):
        try:
            self.proc.stdin.write(text.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def read_ctl(self, timeout):
        """Control lines from the shell, waiting up to timeout for the first."""
        r, _, _ = select.select([self.ctl], [], [], timeout)
        if r:
            try:
                data = os.read(self.ctl, 65536)
            except BlockingIOError:
                data = b""
            if data:
                self.buf += data
            elif self.proc.poll() is not None:
                self.pending.append(["gone"])
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.pending.append(line.decode(errors="replace").split("\t"))
        out, self.pending = self.pending, []
        return out

    def output_since(self, offset):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        lines = text.splitlines()
        if len(lines) > OUTPUT_TAIL:
            lines = ["[... %d lines before]" % (len(lines) - OUTPUT_TAIL)] + lines[-OUTPUT_TAIL:]
        return "\n".join(lines)

    def log_offset(self):
        self.log.flush()
        return os.path.getsize(self.log_path)

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            end = time.monotonic() + 10
            while time.monotonic() < end:
                try:
                    os.killpg(self.proc.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)  # polling for the group to exit after the signal
            else:
                continue
            break
        if self.proc.poll() is None:
            self.proc.wait()
        os.close(self.ctl)
        self.log.close()
        if os.environ.get("KZ_DOC_KEEP"):
            print("  (session %s kept in %s)" % (self.name, self.dir))
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# --- running blocks ----------------------------------------------------------

def logical_command(b, idx):
    """The doc lines of the command around script line idx (backslash continuations)."""
    lo = idx
    while lo > 0 and b.script[lo - 1].rstrip().endswith("\\"):
        lo -= 1
    hi = idx
    while hi < len(b.script) - 1 and b.script[hi].rstrip().endswith("\\"):
        hi += 1
    return lo, hi


def describe_failure(b, sess, fields, offset):
    _, _, phase, rc, lineno, cmd = (fields + [""] * 6)[:6]
    out = ["FAIL %s (%s%s): exit status %s" % (b.where, b.lang, ", session " + sess.name if sess.name else "", rc)]
    try:
        n = int(lineno) - 1
    except ValueError:
        n = -1
    if phase == "setup":
        out.append("  in the hidden setup of the marker, line %d: %s" % (n + 1, cmd))
    elif 0 <= n < len(b.script):
        lo, hi = logical_command(b, n)
        out.append("  %s:%d: the command as written:" % (b.path, b.line_map[lo]))
        out += ["    " + b.shown[k] for k in range(lo, hi + 1)]
        ran = [rewrite(b.script[k], b, sess.root) for k in range(lo, hi + 1)]
        if ran != b.script[lo:hi + 1]:
            out.append("  run as:")
            out += ["    " + r for r in ran]
    else:
        out.append("  command: %s" % cmd)
    out.append("  output of the session since the block started:")
    out += ["    | " + ln for ln in sess.output_since(offset).splitlines()]
    return "\n".join(out)


def check_builds(b, repo):
    """Checks a builds block without running it: programs exist, scripts parse."""
    notes, problems = [], []
    text = "\n".join(b.script)
    text = re.sub(r"\\\n", " ", text)
    for line in text.split("\n"):
        for cmd in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(cmd, comments=True)
            except ValueError as e:
                problems.append("cannot read %r: %s" % (cmd.strip(), e))
                continue
            while words and re.match(r"^\w+=", words[0]):
                words = words[1:]
            if not words:
                continue
            prog, args = words[0], words[1:]
            script = None
            if prog in ("sh", "bash", "python3"):
                script = next((a for a in args if not a.startswith("-")), None)
            elif "/" in prog:
                script = prog
            elif not shutil.which(prog):
                problems.append("%s: not on PATH" % prog)
                continue
            if not script:
                continue
            if script.startswith("build/"):
                notes.append("%s (made by the build)" % script)
                continue
            path = os.path.join(repo, script)
            if not os.path.isfile(path):
                problems.append("%s: no such file in the repository" % script)
                continue
            if script.endswith(".py"):
                try:
                    with open(path) as f:
                        compile(f.read(), path, "exec")
                    notes.append("%s parses" % script)
                except SyntaxError as e:
                    problems.append("%s: %s" % (script, e))
                continue
            with open(path, "rb") as f:
                head = f.readline()
            shell = "bash" if b"bash" in head or prog == "bash" else "sh"
            r = subprocess.run([shell, "-n", path], capture_output=True, text=True)
            if r.returncode:
                problems.append("%s: %s -n: %s" % (script, shell, r.stderr.strip()))
            else:
                notes.append("%s parses (%s -n)" % (script, shell))
    return notes, problems


def run_block(b, sess, idx):
    """Runs one block in its session; returns None or the failure's description."""
    d = b.directives
    ok = "0" + ("," + d["exit"].replace(" ", "") if "exit" in d else "")
    timeout = float(d.get("timeout", DEFAULT_TIMEOUT))
    base = os.path.join(sess.dir, "block%d" % idx)
    with open(base + "-setup.sh", "w") as f:
        f.write("\n".join(relocate(ln, sess.root) for ln in b.setup) + "\n")
    with open(base + ".sh", "w") as f:
        f.write("\n".join(rewrite(ln, b, sess.root) for ln in b.script) + "\n")
    offset = sess.log_offset()
    run = ["__kz_block=%d; __kz_phase=setup; __kz_ok=0" % idx, '. "%s-setup.sh" < /dev/null' % base,
           "__kz_phase=example; __kz_ok=%s" % ok]
    if "background" in d:
        run += ['( trap \'__kz_err $? $LINENO "$BASH_COMMAND"\' ERR; . "%s.sh" < /dev/null ) &' % base,
                "__kz_bg=$!",
                'kz_wait_http %s "$__kz_bg" || __kz_err 97 0 "waiting for %s"' % (shlex.quote(d["background"]),
                                                                                   d["background"])]
    else:
        # the shell reads the session's commands from its standard input: an
        # example that reads its own (cat > FILE) gets end of file, not the
        # rest of the session, and fails at once instead of hanging
        run.append('. "%s.sh" < /dev/null' % base)
    run.append("__kz_ok=0; printf 'done\\t%d\\n' >&$KZ_CTL_FD" % idx)
    with open(base + "-run.sh", "w") as f:
        f.write("\n".join(run) + "\n")
    sess.send('. "%s-run.sh"' % base)
    end = time.monotonic() + timeout
    failure = None
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return "FAIL %s: did not finish within %d s (timeout); output:\n%s" % (
                b.where, timeout, "\n".join("    | " + ln for ln in sess.output_since(offset).splitlines()))
        for fields in sess.read_ctl(min(left, 1.0)):
            if fields[0] == "fail" and failure is None:
                failure = fields
            elif fields[0] == "done" and fields[1] == str(idx):
                return describe_failure(b, sess, failure, offset) if failure else None
            elif fields[0] == "gone":
                if failure:
                    return describe_failure(b, sess, failure, offset)
                return "FAIL %s: the session's shell ended (exit status %s); output:\n%s" % (
                    b.where, sess.proc.returncode,
                    "\n".join("    | " + ln for ln in sess.output_since(offset).splitlines()))
        if failure and sess.proc.poll() is not None:
            return describe_failure(b, sess, failure, offset)


def run_doc(path, repo, build, netns, env):
    rel = os.path.relpath(path, repo)
    if rel.startswith(".."):
        rel = path
    with open(path, encoding="utf-8") as f:
        blocks = parse_doc(rel, f.read())
    if not blocks:
        print("%s: no examples" % rel)
        return 0
    # One session at a time, each to its end, in the order they first appear:
    # sessions share nothing, and two never hold the docs' port 8470 at once
    # (which matters where there is no network namespace).
    groups = {}
    for n, b in enumerate(blocks):
        groups.setdefault(b.directives.get("session") or "#%d" % n, []).append((n, b))
    failures = 0
    for name, members in groups.items():
        sess = None
        dead = False
        for n, b in members:
            d = b.directives
            tag = "%s (%s)" % (b.where, ", ".join(k + (" " + v if v else "") for k, v in d.items()) or "plain")
            if "skip" in d:
                print("skip  %s: %s" % (tag, d["skip"]))
                continue
            if "builds" in d:
                notes, problems = check_builds(b, repo)
                if problems:
                    failures += 1
                    print("FAIL %s: a builds block, checked without running it:\n  %s"
                          % (b.where, "\n  ".join(problems)))
                else:
                    print("check %s: not run (it builds the project%s); %s" % (
                        tag, ": " + d["builds"] if d["builds"] else "", "; ".join(notes) or "nothing to check"))
                continue
            if dead:
                print("skip  %s: an earlier block of session %s failed" % (tag, name))
                continue
            if sess is None:
                sess = Session(d.get("session", ""), netns, env, repo, build)
            if "requires" in d and not os.path.exists(os.path.join(sess.cwd, d["requires"])):
                print("skip  %s: requires %s, which is not here" % (tag, d["requires"]))
                continue
            t0 = time.monotonic()
            msg = run_block(b, sess, n)
            if msg:
                failures += 1
                dead = True
                print(msg)
            else:
                print("ok    %s in %.1f s" % (tag, time.monotonic() - t0))
        if sess is not None:
            sess.close()
    print("%s: %d example block(s), %d failed" % (rel, len(blocks), failures))
    return failures


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    listing = argv[1] == "--list"
    files = argv[2:] if listing else argv[1:]
    repo = os.path.abspath(os.environ.get("KZ_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", ".."))
    if listing:
        for path in files:
            with open(path, encoding="utf-8") as f:
                for b in parse_doc(os.path.relpath(path, repo), f.read()):
                    print("%s %s %s" % (b.where, b.lang, b.directives))
        return 0
    if os.environ.get("KZ_DOC_EXAMPLES"):
        print("FAIL: run_examples.py started by a doc example: a block that builds or tests the "
              "project must be marked <!-- example: builds -->")
        return 1
    kizuna = os.environ.get("KIZUNA")
    if not kizuna or not os.access(kizuna, os.X_OK):
        print("KIZUNA must name the kizuna binary under test")
        return 2
    build = os.environ.get("KZ_BUILD_DIR") or os.path.dirname(os.path.abspath(kizuna))
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(os.path.abspath(kizuna)) + os.pathsep + env.get("PATH", "")
    netns = None if os.environ.get("KZ_DOC_NO_NETNS") else netns_prefix()
    lock = None
    if netns is None:
        print("note: no network namespace here (unshare); sessions run one at a time on this host's loopback")
        lock = open(os.path.join(tempfile.gettempdir(), "kizuna-doc-examples.lock"), "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
    failures = 0
    try:
        for path in files:
            failures += run_doc(os.path.abspath(path), repo, build, netns, env)
    except DocError as e:
        print("FAIL %s" % e)
        return 1
    finally:
        if lock:
            lock.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
