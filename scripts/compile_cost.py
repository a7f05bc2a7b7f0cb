#!/usr/bin/env python3
"""Compile-time cost of memoization per function (issue 17): generates a crate of N memoized
`fn f_i(a: u64, b: String) -> u64` for each variant (no memoization, `cached`, cachemacro with
default features, cachemacro with `redis`), builds each in a target dir of its own (dev profile),
and prints, as medians of `--runs` runs (wall times, and the rebuilds' ratios in CPU time too):

- clean build: every dependency and the crate, from an empty target dir;
- touch rebuild: `touch src/lib.rs`, then build (the crate alone, incremental);
- edit rebuild: a one-line change of one function's body, then build;
- crate alone: the crate rebuilt from scratch with its dependencies built (`cargo clean -p`);
- LLVM IR lines per memoized fn: lines of the crate's `--emit=llvm-ir`, less those of the crate
  without memoization, divided by N;
- dependency crates: the units compiled by the clean build, the crate included.

The rebuilds of the crates alternate run by run, and the ratios to `cached` are the medians of
each run's ratios, so that a load that comes and goes on a shared machine falls on both sides.

Usage: scripts/compile_cost.py [--runs 3] [--functions 200] [--quick] [--only NAME ...]
(`--quick` skips the clean builds). Works offline against the local registry cache. Not run in CI.
"""

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME = os.path.join(ROOT, "cachemacro-runtime")


def variants():
    """(name, [dependencies] line, attribute above each fn, prelude)."""
    return [
        ("no memoization", "", "", ""),
        (
            "cached (proc_macro)",
            'cached = { version = "4", default-features = false, features = ["proc_macro"] }',
            "#[cached::proc_macro::cached]",
            "",
        ),
        (
            "cachemacro (defaults)",
            f'cachemacro-runtime = {{ path = "{RUNTIME}" }}',
            "#[cachemacro_runtime::memoize]",
            "",
        ),
        (
            "cachemacro (redis)",
            f'cachemacro-runtime = {{ path = "{RUNTIME}", features = ["redis"] }}',
            "#[cachemacro_runtime::memoize]",
            "",
        ),
    ]


def source(attribute, functions, edit):
    lines = ["#![allow(clippy::all)]"]
    for i in range(functions):
        # The edit changes one constant of the first function's body.
        constant = (1_000 + edit) if i == 0 else i
        lines.append(f"{attribute}\npub fn f_{i}(a: u64, b: String) -> u64 {{\n"
                     f"    a.wrapping_mul({constant}).wrapping_add(b.len() as u64)\n}}")
    return "\n\n".join(lines) + "\n"


def write_crate(directory, dependency, attribute, functions, edit=0):
    os.makedirs(os.path.join(directory, "src"), exist_ok=True)
    with open(os.path.join(directory, "Cargo.toml"), "w") as manifest:
        manifest.write(
            "[package]\nname = \"memo_cost\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n"
            f"[dependencies]\n{dependency}\n\n[workspace]\n"
        )
    with open(os.path.join(directory, "src", "lib.rs"), "w") as lib:
        lib.write(source(attribute, functions, edit))


def cargo(directory, *args, capture=False):
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(directory, "target"))
    env.pop("RUSTFLAGS", None)
    start = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Cargo's own flags go before a `--` (the rest is rustc's).
    split = args.index("--") if "--" in args else len(args)
    flags = ["--offline", "--quiet" if not capture else "--color=never"]
    done = subprocess.run(
        ["cargo", *args[:split], *flags, *args[split:]],
        cwd=directory, env=env, capture_output=True, text=True,
    )
    elapsed = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"cargo {' '.join(args)} failed in {directory}:\n{done.stderr[-4000:]}")
    return elapsed, done.stderr, cpu


def ir_lines(directory):
    out = os.path.join(directory, "ir")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    cargo(directory, "rustc", "--lib", "--", "--emit=llvm-ir", f"-o{out}/memo_cost.ll")
    total = 0
    for name in os.listdir(out):
        if name.endswith(".ll"):
            with open(os.path.join(out, name)) as ir:
                total += sum(1 for _ in ir)
    return total


def prepare(name, dependency, attribute, functions, runs, quick, work):
    """Writes the crate and times its clean builds; the rebuilds are timed by `rebuild`."""
    directory = os.path.join(work, re.sub(r"[^a-z]+", "_", name.lower()))
    shutil.rmtree(directory, ignore_errors=True)
    write_crate(directory, dependency, attribute, functions)
    row = {"name": name, "directory": directory, "dependency": dependency,
           "attribute": attribute, "touch": [], "edit": [], "alone": [],
           "touch_cpu": [], "edit_cpu": [], "alone_cpu": []}
    clean, units = [], None
    for _ in range(1 if quick else runs):
        shutil.rmtree(os.path.join(directory, "target"), ignore_errors=True)
        elapsed, log, _ = cargo(directory, "build", capture=True)
        clean.append(elapsed)
        units = len(re.findall(r"^\s*Compiling ", log, re.M))
    row["clean"] = None if quick else statistics.median(clean)
    row["units"] = units
    return row


def rebuild(row, functions, run):
    """One run of the three rebuilds of one crate."""
    directory = row["directory"]
    os.utime(os.path.join(directory, "src", "lib.rs"))
    record(row, "touch", cargo(directory, "build"))
    write_crate(directory, row["dependency"], row["attribute"], functions, edit=run + 1)
    record(row, "edit", cargo(directory, "build"))
    cargo(directory, "clean", "-p", "memo_cost")
    record(row, "alone", cargo(directory, "build"))


def record(row, step, result):
    """Keeps a build's wall time and its CPU time (user + system, cargo and rustc together)."""
    elapsed, _, cpu = result
    row[step].append(elapsed)
    row[step + "_cpu"].append(cpu)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--functions", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="skip the clean builds")
    parser.add_argument("--only", nargs="*", help="variants whose name contains one of these")
    parser.add_argument("--keep", help="work in this directory and keep it")
    parser.add_argument("--runtime", help="the cachemacro-runtime to measure (default: this "
                        "checkout's), e.g. another worktree's, for a before/after")
    args = parser.parse_args()
    if args.runtime:
        global RUNTIME
        RUNTIME = os.path.abspath(args.runtime)
    work = args.keep or tempfile.mkdtemp(prefix="memo_cost_")
    rows = []
    for name, dependency, attribute, _ in variants():
        chosen = (args.only is None or name == "no memoization"
                  or any(part in name for part in args.only))
        if chosen:
            rows.append(prepare(name, dependency, attribute, args.functions, args.runs,
                                args.quick, work))
    # The rebuilds of every crate alternate run by run, so that each run's ratios compare
    # crates built under the same load (the machines are shared).
    for run in range(args.runs):
        for row in rows:
            rebuild(row, args.functions, run)
        print(f"run {run + 1} of {args.runs}", file=sys.stderr)
    for row in rows:
        row["ir"] = ir_lines(row["directory"])
    base_ir = rows[0]["ir"]
    peer = next((row for row in rows if row["name"].startswith("cached")), None)
    print(f"{args.functions} functions, median of {args.runs} alternated runs, "
          f"{cpu_model()}, rustc {rustc_version()}, load average {load_average()}\n")
    print("| crate | clean build | touch rebuild | one-line edit rebuild | crate alone from scratch "
          "| LLVM IR lines per memoized fn | dependency crates |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        per_fn = "—" if row is rows[0] else f"{(row['ir'] - base_ir) / args.functions:,.0f}"
        clean = "—" if row["clean"] is None else f"{row['clean']:.2f} s"
        times = " | ".join(f"{statistics.median(row[step]):.2f} s"
                           for step in ("touch", "edit", "alone"))
        print(f"| {row['name']} | {clean} | {times} | {per_fn} | {row['units']} |")
    if peer is not None:
        print_ratios(rows, peer, "", "Per-run ratios to `{}` (median of the runs' ratios)")
        # CPU time is what the build itself costs: on a shared machine the wall time also
        # counts the time the build waited for a core.
        print_ratios(rows, peer, "_cpu", "The same in CPU time (user + system), ratios to `{}`")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def print_ratios(rows, peer, suffix, title):
    """Each crate's rebuilds against `peer`'s: the median of the runs' ratios, of the wall times
    (`suffix` "") or of the CPU times ("_cpu")."""
    print(f"\n{title.format(peer['name'])}:\n")
    print("| crate | touch rebuild | one-line edit rebuild | crate alone from scratch |")
    print("|---|---|---|---|")
    for row in rows:
        if row is peer or row is rows[0]:
            continue
        ratios = " | ".join(
            f"{statistics.median(a / b for a, b in zip(row[step + suffix], peer[step + suffix])):.2f}x"
            for step in ("touch", "edit", "alone"))
        print(f"| {row['name']} | {ratios} |")


def load_average():
    try:
        with open("/proc/loadavg") as load:
            return " ".join(load.read().split()[:3])
    except OSError:
        return "unknown"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def rustc_version():
    return subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.split()[1]


if __name__ == "__main__":
    main()
