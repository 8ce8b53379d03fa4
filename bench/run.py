#!/usr/bin/python3
"""make bench: Wharf side by side with Postfix + Dovecot.

Starts a Wharf instance and a reference Postfix + Dovecot under one
temporary directory (everything on 127.0.0.1, nothing system-wide), runs
each workload against each in turn, stops both, prints one table and
appends it to bench/RESULTS.md.  See bench/README.md.

Debian's /usr/bin/python3, standard library only.  Needs root (the
servers drop privileges themselves), postfix, dovecot-imapd,
dovecot-lmtpd, and `make all` plus build/imapload.
"""
import argparse
import asyncio
import datetime
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import servers  # noqa: E402
import workloads  # noqa: E402
from servers import DOMAIN, log  # noqa: E402

WORKLOADS = ("smtp", "latency", "submission", "imap", "big", "memory")
MIX_USERS = 10

# Sizes: (full, quick).
SIZES = {
    "smtp_n": (2000, 200),
    "latency_n": (1000, 100),
    "submission_n": (300, 30),
    "mix_fill": (500, 50),          # messages per mix user
    "mix_clients": (50, 20),
    "mix_seconds": (30, 5),
    "memory_n": (1000, 100),
    "big": (100000, 2000),
}

# metric: (label, unit, True when higher is better)
METRICS = [
    ("smtp 1", "smtp-source, 1 session", "msg/s", True),
    ("smtp 10", "smtp-source, 10 sessions", "msg/s", True),
    ("smtp 50", "smtp-source, 50 sessions", "msg/s", True),
    ("lat p50", "SMTP MAIL..250 at 10 sessions, p50", "ms", False),
    ("lat p99", "SMTP MAIL..250 at 10 sessions, p99", "ms", False),
    ("submission", "submission STARTTLS+AUTH, 1 msg/conn", "conn/s", True),
    ("imap total", "IMAP mix, all commands", "ops/s", True),
] + [(f"imap {op}{suffix}", f"IMAP mix {op}{label}", unit, hib)
     for op in workloads.MIX_OPS
     for suffix, label, unit, hib in (("", "", "ops/s", True),
                                      (" p50", " p50", "ms", False),
                                      (" p99", " p99", "ms", False))] + [
    ("imap errors", "IMAP mix errors (NO/BAD/timeouts)", "count", False),
    ("big SELECT", "big mailbox: SELECT", "ms", False),
    ("big FETCH FLAGS", "big mailbox: FETCH 1:* (FLAGS)", "ms", False),
    ("big SEARCH TEXT", "big mailbox: UID SEARCH TEXT word", "ms", False),
    ("big FETCH ENVELOPE", "big mailbox: FETCH 1:* (ENVELOPE)", "ms", False),
    ("mem smtp rss", "idle SMTP connection, RSS", "KiB/conn", False),
    ("mem smtp pss", "idle SMTP connection, PSS", "KiB/conn", False),
    ("mem imap rss", "IMAP session in IDLE, RSS", "KiB/conn", False),
    ("mem imap pss", "IMAP session in IDLE, PSS", "KiB/conn", False),
]


FAILURES = (workloads.BenchError, OSError, EOFError, asyncio.TimeoutError,
            subprocess.TimeoutExpired, ValueError, KeyError, IndexError)


class Interrupted(Exception):
    pass


def on_signal(signum, frame):
    raise Interrupted(f"signal {signum}")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="small sizes and one run of each workload")
    p.add_argument("--only", default=",".join(WORKLOADS),
                   help="comma-separated subset of " + ",".join(WORKLOADS))
    p.add_argument("--runs", type=int, help="runs per workload (3)")
    p.add_argument("--big", type=int, help="messages in the big mailbox "
                   "(100000; --quick 2000)")
    p.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    p.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    p.add_argument("--no-results", action="store_true",
                   help="print the table only")
    p.add_argument("--note", action="append", default=[],
                   help="a line for RESULTS.md (repeatable)")
    p.add_argument("--keep", action="store_true",
                   help="keep the temporary directory")
    a = p.parse_args()
    a.only = [w.strip() for w in a.only.split(",") if w.strip()]
    bad = set(a.only) - set(WORKLOADS)
    if bad:
        p.error(f"unknown workload(s): {', '.join(sorted(bad))}")
    a.runs = a.runs or (1 if a.quick else 3)
    a.size = {k: v[1 if a.quick else 0] for k, v in SIZES.items()}
    if a.big is not None:
        a.size["big"] = a.big
    a.build = os.path.abspath(a.build)
    return a


def users():
    return (["sink", "sub", "big0"] +
            [f"m{i}" for i in range(MIX_USERS)])


class Bench:
    def __init__(self, args):
        self.args = args
        self.top = tempfile.mkdtemp(prefix="wharf-bench-", dir="/tmp")
        os.chmod(self.top, 0o755)
        self.systems = []
        self.results = {}           # (system name, metric) -> [values]
        self.notes = []
        self.imapload = os.path.join(args.build, "imapload")

    def record(self, system, values):
        for k, v in values.items():
            self.results.setdefault((system.name, k), []).append(v)

    def start(self):
        log(f"directory {self.top}")
        w = servers.Wharf(self.top, self.args.build, users())
        self.systems.append(w)
        w.start()
        w.add_users()
        log(f"Wharf up: {w.ports}")
        r = servers.Reference(self.top, users())
        self.systems.append(r)
        r.configure(w.hashes)
        r.start()
        log(f"Postfix+Dovecot up: {r.ports}")

    def stop(self, failed=False):
        for s in reversed(self.systems):
            try:
                s.stop()
            except Exception as e:      # keep stopping the others
                log(f"stopping {s.name}: {e}")
        if failed:
            log(f"logs kept in {self.top}")
        elif not self.args.keep:
            shutil.rmtree(self.top, ignore_errors=True)

    def each(self, what, fn, keys, restart=False):
        """fn(system) -> {metric: value} per run and system.  A run that
        fails (a server refusing, a timeout) is recorded as failed for
        keys and the bench goes on.  restart: the system is restarted
        before each run (fresh processes)."""
        for run in range(self.args.runs):
            for s in self.systems:
                log(f"{what} run {run + 1}/{self.args.runs}: {s.name}")
                if restart:
                    s.restart()
                try:
                    self.record(s, fn(s))
                except FAILURES as e:
                    msg = " ".join(str(e).split())[:300]
                    log(f"{what}: {s.name} failed: {msg}")
                    self.notes.append(f"{what}, {s.name}, run {run + 1} "
                                      f"failed: {msg}")
                    self.record(s, {k: None for k in keys})
                    time.sleep(5)   # let the server finish what it took

    def prefill(self):
        sz = self.args.size
        for s in self.systems:
            if "imap" in self.args.only or "memory" in self.args.only:
                secs = workloads.imap_fill(
                    self.imapload, s, "m%u@" + DOMAIN, MIX_USERS,
                    sz["mix_fill"] * MIX_USERS, clients=MIX_USERS)
                log(f"{s.name}: mix mailboxes filled in {secs:.1f} s")
            if "big" in self.args.only:
                self.fill_big(s, sz["big"])

    def fill_big(self, s, n):
        """The big mailbox: APPEND over IMAP for Wharf; maildir files
        and a resync for Dovecot, whose APPEND into one maildir slows to
        some 40/s with 8 clients past 50,000 messages."""
        if isinstance(s, servers.Reference):
            secs = s.fill_maildir(self.imapload, "big0", n)
            how = "written as maildir files + doveadm force-resync"
        else:
            secs = workloads.imap_fill(self.imapload, s, "big%u@" + DOMAIN,
                                       1, n, clients=8)
            how = "APPENDed by 8 imapload clients"
        self.notes.append(f"big mailbox, {s.name}: {n} messages {how} in "
                          f"{secs:.0f} s ({n / max(secs, 0.001):.0f}/s)")
        log(self.notes[-1])

    def workloads(self):
        a, sz = self.args, self.args.size
        if "smtp" in a.only:
            for sessions in (1, 10, 50):
                self.each(f"smtp-source x{sessions}",
                          lambda s, k=sessions: workloads.smtp_source(
                              s, sz["smtp_n"], k), [f"smtp {sessions}"])
        if "latency" in a.only:
            self.each("SMTP latency", lambda s: workloads.smtp_latency(
                s, sz["latency_n"]), ["lat p50", "lat p99"])
        if "submission" in a.only:
            self.each("submission", lambda s: workloads.submission(
                s, sz["submission_n"]), ["submission"])
        if "imap" in a.only:
            self.each("IMAP mix", lambda s: workloads.imap_mix(
                self.imapload, s, MIX_USERS, sz["mix_clients"],
                sz["mix_seconds"], None), ["imap total"])
        if "big" in a.only:
            self.each("big mailbox", lambda s: workloads.big_mailbox(
                s, sz["big"]), [f"big {n}" for n, _ in workloads.BIG_STEPS])
        if "memory" in a.only:
            self.each("memory", lambda s: workloads.memory(
                s, sz["memory_n"], MIX_USERS),
                [f"mem {k} {m}" for k in ("smtp", "imap")
                 for m in ("rss", "pss")], restart=True)


# ---- the table ----

def fmt(v):
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ok_values(values):
    return [v for v in values if v is not None]


def cell(values):
    good = ok_values(values)
    failed = len(values) - len(good)
    if not good:
        return "failed" if failed else "-"
    med = statistics.median(good)
    text = fmt(med) if len(good) == 1 else \
        f"{fmt(med)} ({fmt(min(good))}-{fmt(max(good))})"
    return text + (f" [{failed} failed]" if failed else "")


def table_rows(bench):
    names = [s.name for s in bench.systems]
    rows = []
    for key, label, unit, higher_better in METRICS:
        vals = [bench.results.get((n, key), []) for n in names]
        if not any(vals):
            continue
        ratio = "-"
        if all(ok_values(v) for v in vals):
            w, r = (statistics.median(ok_values(v)) for v in vals)
            if r:
                ratio = f"{w / r:.2f}"
        arrow = "higher is better" if higher_better else "lower is better"
        rows.append([f"{label} ({unit}, {arrow})", cell(vals[0]),
                     cell(vals[1]), ratio])
    return rows


def print_table(rows):
    head = ["workload", "Wharf", "Postfix+Dovecot", "ratio W/ref"]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
    for r in [head] + rows:
        print("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                        for i, c in enumerate(r)))


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def machine(top):
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    df = out(["df", "-hT", top]).splitlines()[-1:]
    return {
        "commit": out(["git", "-C", HERE, "rev-parse", "--short", "HEAD"]),
        "dirty": bool(out(["git", "-C", HERE, "status", "--porcelain"])),
        "cores": out(["nproc"]),
        "cpu": model,
        "disk": " ".join(df[0].split()) if df else "?",
        "kernel": out(["uname", "-r"]),
        "postfix": out(["postconf", "-d", "-h", "mail_version"]),
        "dovecot": out(["dovecot", "--version"]),
    }


def write_results(path, bench, rows, info, elapsed):
    a = bench.args
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"## {now} — commit {info['commit']}"
        f"{' (uncommitted changes)' if info['dirty'] else ''}",
        "",
        f"- machine: {info['cores']} cores ({info['cpu']}), kernel "
        f"{info['kernel']}; disk of the temporary directory (df -hT): "
        f"`{info['disk']}`",
        f"- reference: Postfix {info['postfix']}, Dovecot {info['dovecot']}",
        f"- options: {'--quick' if a.quick else 'full'}, {a.runs} run(s) "
        f"per figure, workloads {','.join(a.only)}, sizes "
        + ", ".join(f"{k}={v}" for k, v in a.size.items()),
        f"- whole run: {elapsed / 60:.1f} min; 1-minute load average "
        f"{info['load_start']:.1f} at the start, {info['load_end']:.1f} at "
        f"the end"
        + (" (the machine was busy with other work before the bench "
           "started: figures are indicative)"
           if info["load_start"] > 0.5 else ""),
    ] + [f"- {n}" for n in bench.notes + a.note] + [
        "- each cell: median of the runs (min-max); ratio = Wharf / "
        "reference of the medians",
        "",
        "| workload | Wharf | Postfix+Dovecot | ratio W/ref |",
        "|---|---:|---:|---:|",
    ] + [f"| {' | '.join(r)} |" for r in rows] + ["", ""]
    new = not os.path.exists(path)
    with open(path, "a") as f:
        if new:
            f.write("# Wharf bench results\n\nAppended by `make bench` "
                    "(bench/run.py); see bench/README.md.\n\n")
        f.write("\n".join(lines))
    log(f"appended to {path}")


def main():
    args = parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (make bench): the servers start as "
                 "root and drop privileges")
    if not os.path.exists(os.path.join(args.build, "imapload")):
        sys.exit("bench: build/imapload missing; run `make bench`")
    servers.raise_nofile()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    t0 = time.monotonic()
    bench = Bench(args)
    info = machine(bench.top)
    info["load_start"] = loadavg()
    try:
        bench.start()
        bench.prefill()
        bench.workloads()
    except (Interrupted, KeyboardInterrupt) as e:
        log(f"interrupted ({e}); stopping the servers")
        bench.stop()
        return 130
    except Exception:
        bench.stop(failed=True)
        raise
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    bench.stop()
    elapsed = time.monotonic() - t0
    info["load_end"] = loadavg()
    rows = table_rows(bench)
    print()
    print_table(rows)
    print(f"\nwhole run: {elapsed / 60:.1f} min")
    if not args.no_results and rows:
        write_results(args.results, bench, rows, info, elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
