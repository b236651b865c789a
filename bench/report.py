#!/usr/bin/env python3
"""Render bench/RESULTS.md from the JSON files bench-driver wrote.

Every figure printed here comes from a file of the run; a figure that is not
there is printed as "n/a" with the reason, never guessed.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import statistics
import subprocess

USERS = [("nobody", "unprivileged (uid 65534)"), ("root", "root")]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def pct(v, p):
    """Nearest-rank percentile, as the driver computes it."""
    if not v:
        return None
    s = sorted(v)
    k = max(1, min(len(s), int(-(-p * len(s) // 100))))
    return s[k - 1]


def ms(us):
    return "n/a" if us is None else f"{us / 1000:.2f}"


def ratio(a, b):
    return "n/a" if a is None or not b else f"{a / b:.2f}x"


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) // 1024} MiB"
                break
    return [
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("kernel", platform.release()),
        ("CPU", cpu),
        ("cores (nproc)", str(os.cpu_count())),
        ("memory", mem),
        ("OS", sh(". /etc/os-release && echo $PRETTY_NAME")),
        ("bubblewrap", sh("bwrap --version")),
        ("gcc", sh("gcc --version | head -n1")),
        ("commit", sh("git -C %s rev-parse --short HEAD" % os.path.dirname(__file__))),
    ]


def overhead_section(out, user, res):
    d = load(os.path.join(res, user, "overhead.json"))
    if not d:
        out.append(f"No overhead results for {user}.\n")
        return {}
    med = {v["name"]: pct(v["wall_us"], 50) for v in d["variants"]}
    bare, bw = med.get("bare"), med.get("bwrap")
    bw_over = bw - bare if bw is not None and bare is not None else None
    out.append(f"{d['n']} rounds (+{d['warmup']} warm-up), variants interleaved and rotated "
               "round by round. Overhead = median − bare median.\n")
    out.append("| variant | runs ok | fails | median ms | p90 ms | overhead ms | × bare "
               "| overhead ÷ bwrap's overhead |")
    out.append("|---|---|---|---|---|---|---|---|")
    head = {}
    for v in d["variants"]:
        m, p90 = med[v["name"]], pct(v["wall_us"], 90)
        over = m - bare if m is not None and bare is not None else None
        head[v["name"]] = (m, over)
        out.append(f"| {v['name']} | {len(v['wall_us'])} | {v['fails']} | {ms(m)} | {ms(p90)} | "
                   f"{ms(over) if v['name'] != 'bare' else '—'} | {ratio(m, bare)} | "
                   f"{ratio(over, bw_over) if v['name'] not in ('bare',) else '—'} |")
    for v in d["variants"]:
        if v.get("warm"):
            out.append(f"\n`{v['name']}`: {v['warm']} of {len(v['wall_us'])} runs got a warm "
                       "helper from the pool.")
    errs = [(v["name"], v["first_error"]) for v in d["variants"] if v["fails"]]
    for name, e in errs:
        out.append(f"\n`{name}` first failure: `{e.strip()[:300]}`")
    out.append("")
    return {"med": med, "bw_over": bw_over, "head": head, "data": d}


def stages_from_cli(res, user):
    """Per-stage lists from the CLI's --json files: "helper_timings_us" (the
    helper's exit.timings) and "timings_us" (the library's clock, "cli:")."""
    found = {}
    files = glob.glob(os.path.join(res, user, "cli-json", "*.json"))
    for p in files:
        d = load(p)
        if not isinstance(d, dict):
            continue
        for key, prefix in (("helper_timings_us", ""), ("timings_us", "cli:")):
            t = d.get(key)
            if isinstance(t, dict):
                for k, v in t.items():
                    if isinstance(v, (int, float)):
                        found.setdefault(prefix + k, []).append(v)
    return found, len(files)


def pre_job(stages):
    """Stages a warm helper did before its job arrived: everything up to and
    including "job" (the wait for the job frame) in the helper's order."""
    names = [n for n in stages if ":" not in n]
    return set(names[:names.index("job") + 1]) if "job" in names else set()


def stages_section(out, user, res, ov):
    d = ov.get("data")
    sources = {}  # source -> {stage: samples}, in the helper's order
    warm = set()
    if d:
        for v in d["variants"]:
            if v.get("stages"):
                sources[v["name"]] = {st["name"]: st["usec"] for st in v["stages"]}
                if v.get("warm"):
                    warm.add(v["name"])
    cli, nfiles = stages_from_cli(res, user)
    if cli:
        sources["cli --json"] = cli
    if not sources:
        out.append("No per-stage timings were reported (neither by the library variant nor in "
                   f"the CLI's --json files: {nfiles} file(s) read).\n")
        return []
    out.append("Median (p90) µs per stage, same jobs as section 1. Plain names: the helper's "
               "own clock (exit.timings, each stage = time since the previous one, in the "
               "helper's order). `lib:` / `cli:` rows: the library's clock (spawn = "
               "posix_spawn until hello; setup = hello until exit minus run and outputs; "
               "run = the compiler's wall time; total = the whole cps_run()), from the library "
               "variants and from the CLI's `--json` files.\n")
    order = []
    for st in sources.values():
        for n in st:
            if n not in order:
                order.append(n)
    order.sort(key=lambda n: ":" in n)  # the helper's stages first, then the library's
    names = list(sources)
    out.append("| stage | " + " | ".join(names) + " |")
    out.append("|---|" + "---|" * len(names))
    for n in order:
        cells = []
        for src in names:
            v = sources[src].get(n)
            c = "—" if not v else f"{pct(v, 50)} ({pct(v, 90)})"
            if v and src in warm and n in pre_job(sources[src]):
                c += " †"
            cells.append(c)
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    if warm:
        out.append("\n† done by a warm helper before the job arrived (`job` is the time it "
                   "waited idle in the pool): not part of that job's cost.")
    out.append("")
    rows = []
    for src, st in sources.items():
        skip = pre_job(st) if src in warm else set()
        for n, v in st.items():
            if ":" not in n and n not in skip and v:
                rows.append((src, n, pct(v, 50), pct(v, 90), len(v)))
    return rows


def lua_section(out, user, res, args, par=2):
    """The Lua batch at par jobs at once (2: lua.json, else lua-PAR.json)."""
    sfx = "" if par == 2 else f"-{par}"
    d = load(os.path.join(res, user, f"lua{sfx}.json"))
    cmp_ = load(os.path.join(res, user, f"lua-compare{sfx}.json")) or {}
    if not d:
        out.append(f"No Lua results for {user} at {par} at once.\n")
        return {}
    # A batch with failed jobs finished early: its wall time means nothing.
    med = {v["name"]: pct(v["round_wall_us"], 50) if not v["fails"] else None
           for v in d["variants"]}
    bare = med.get("bare")
    # Each round runs every variant back to back, so the ratio within a round
    # cancels the load drift between rounds (the machine is shared).
    bare_rounds = next((v["round_wall_us"] for v in d["variants"] if v["name"] == "bare"), None)
    paired = {}
    for v in d["variants"]:
        if bare_rounds and not v["fails"] and not any(
                vv["fails"] for vv in d["variants"] if vv["name"] == "bare"):
            paired[v["name"]] = statistics.median(
                a / b for a, b in zip(v["round_wall_us"], bare_rounds) if b)
    out.append(f"{args.lua}: {d['jobs']} translation units, each one job, {d['par']} at once; "
               f"{d['rounds']} round(s), variants interleaved. Wall = the whole batch.\n")
    out.append("| variant | median wall s | × bare (medians) | × bare (median of per-round "
               "ratios) | job median ms | job p90 ms | failed jobs | objects identical to bare |")
    out.append("|---|---|---|---|---|---|---|---|")
    for v in d["variants"]:
        c = cmp_.get(v["name"])
        ident = "—" if v["name"] == "bare" else (
            f"{c['identical']}/{d['jobs']}" + (f" (differ: {c['differ']})" if c["differ"] else "")
            + (f" (missing: {c['missing']})" if c["missing"] else "") if c else "not compared")
        w = med[v["name"]]
        pr = paired.get(v["name"])
        out.append(f"| {v['name']} | {'n/a' if w is None else f'{w / 1e6:.3f}'} | "
                   f"{ratio(w, bare)} | {'n/a' if pr is None else f'{pr:.2f}x'} | "
                   f"{ms(pct(v['job_wall_us'], 50))} | {ms(pct(v['job_wall_us'], 90))} | "
                   f"{v['fails']} | {ident} |")
    for v in d["variants"]:
        if v.get("warm"):
            out.append(f"\n`{v['name']}`: {v['warm']} of {d['jobs'] * d['rounds']} jobs got a "
                       "warm helper from the pool.")
        if v["fails"]:
            out.append(f"\n`{v['name']}` first failure: `{v['first_error'].strip()[:300]}`")
    out.append("")
    return {"med": med, "cmp": cmp_, "jobs": d["jobs"], "paired": paired, "par": d["par"]}


def stream_section(out, user, res, args):
    rows = {}
    for p in sorted(glob.glob(os.path.join(res, user, "stream-*.json"))):
        m = re.match(r"stream-(stdout|file)-(.+)-(\d+)\.json$", os.path.basename(p))
        d = load(p)
        if not m or not d:
            continue
        for v in d["variants"]:
            rows.setdefault((m.group(1), m.group(2)), []).append(v)
    if not rows:
        out.append(f"No streaming results for {user}.\n")
        return {}
    mib = args.stream_bytes / (1 << 20)
    out.append(f"One job producing {mib:.0f} MiB, one driver process per variant and run "
               "(medians over runs). *driver maxrss*: ru_maxrss of the driver (for `lib-*` "
               "this is the parent: the library runs inside the driver; for exec variants it "
               "is only the reading end). *helper VmHWM*: the helper processes' peak RSS read "
               "from /proc/PID/status by a 5 ms sampler. *children maxrss*: RUSAGE_CHILDREN "
               "after reaping, the largest of the spawned process and everything it reaped "
               "(an upper bound that includes the job itself).\n")
    out.append("| kind | variant | runs ok | MiB/s | wall s | driver maxrss MiB "
               "| helper VmHWM MiB | children maxrss MiB | warm helper |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for (kind, name), vs in sorted(rows.items()):
        ok = [v for v in vs if v["ok"] and v["bytes"] >= args.stream_bytes]
        if not ok:
            out.append(f"| {kind} | {name} | 0/{len(vs)} | n/a | n/a | n/a | n/a | n/a | |")
            continue
        thr = statistics.median(v["bytes"] / (1 << 20) / (v["wall_us"] / 1e6) for v in ok)
        wall = statistics.median(v["wall_us"] for v in ok) / 1e6
        self_ = statistics.median(v["self_maxrss_kb"] for v in ok) / 1024
        hwm = statistics.median(v["helper_hwm_kb"] for v in ok) / 1024
        kids = statistics.median(v["children_maxrss_kb"] for v in ok) / 1024
        hwm_s = f"{hwm:.1f}" if hwm else "n/a (no helper)"
        summary[(kind, name)] = (thr, self_, hwm)
        warm = sum(1 for v in ok if v.get("warm"))
        out.append(f"| {kind} | {name} | {len(ok)}/{len(vs)} | {thr:.0f} | {wall:.3f} | "
                   f"{self_:.1f} | {hwm_s} | {kids:.1f} | "
                   f"{f'{warm}/{len(ok)}' if name.startswith('lib-') else '—'} |")
    for (kind, name), vs in sorted(rows.items()):
        bad = [v for v in vs if not (v["ok"] and v["bytes"] >= args.stream_bytes)]
        if bad:
            out.append(f"\n`{kind} {name}` failed: bytes={bad[0]['bytes']} "
                       f"`{bad[0]['error'].strip()[:300]}`")
    out.append("")
    return summary


def conc_section(out, user, res):
    levels = []
    for p in glob.glob(os.path.join(res, user, "conc-*.json")):
        d = load(p)
        if d:
            levels.append(d)
    if not levels:
        out.append(f"No concurrency results for {user}.\n")
        return {}
    levels.sort(key=lambda d: d["par"])
    out.append("P jobs of `/bin/true` at once until all are done (a pool holds max(2, P) warm "
               "helpers and is freed before the leftovers are counted). Leftovers: mount table lines "
               "of the driver's mount namespace (after − before), processes still running "
               "whose command line names the bench directory or that are children of the driver, "
               "100 ms after the last job returned; entries left in "
               "the jobs' build dirs when they returned.\n")
    out.append("| at once | variant | jobs | jobs/s | fails | warm helper | leftover mounts "
               "| leftover processes | leftover files |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    rates = {}
    bad = {"fails": 0, "leftovers": 0}
    for d in levels:
        for v in d["variants"]:
            rate = d["jobs"] / (v["wall_us"] / 1e6) if v["wall_us"] else 0
            rates[(v["name"], d["par"])] = rate
            if v["name"].startswith("lib-") or v["name"] == "cli":
                bad["fails"] += v["fails"]
                bad["leftovers"] += (max(v["leftover_mounts"], 0) + max(v["leftover_procs"], 0)
                                     + max(v["leftover_files"], 0))
            warm = f"{v.get('warm', 0)}/{d['jobs']}" if v["name"].startswith("lib-") else "—"
            out.append(f"| {d['par']} | {v['name']} | {d['jobs']} | {rate:.1f} | {v['fails']} | "
                       f"{warm} | {v['leftover_mounts']} | {v['leftover_procs']} | "
                       f"{v['leftover_files']} |")
    names = sorted({k[0] for k in rates})
    out.append("\nScaling at 2 (target ≥ 0.9): jobs/s at 2 ÷ (2 × jobs/s at 1): " + ", ".join(
        f"{n} {rates[(n, 2)] / (2 * rates[(n, 1)]):.2f}" for n in names
        if rates.get((n, 1)) and (n, 2) in rates))
    # The ratio above is bounded by a job's own parallelism: a job that keeps
    # more than one core busy (the helper's O and I overlap, a pool refills in
    # the background, the kernel tears namespaces down in workers) has little
    # left to gain from a second core. What two cores deliver, next to
    # bubblewrap's jobs/s at the same level, is the other half of the picture.
    for p in sorted({k[1] for k in rates}):
        base = rates.get(("bwrap", p))
        if base:
            out.append(f"\nAt {p} at once, jobs/s ÷ bubblewrap's: " + ", ".join(
                f"{n} {rates[(n, p)] / base:.2f}" for n in names
                if n != "bwrap" and (n, p) in rates))
    for d in levels:
        for v in d["variants"]:
            if v["fails"]:
                out.append(f"\n`{v['name']}` at {d['par']}: first failure "
                           f"`{v['first_error'].strip()[:300]}`")
    out.append("")
    return {"rates": rates, "bad": bad}


CPU_HEADING = "## CPU per job (issue 16)"


def cpu_levels(res, user):
    levels = [d for d in (load(p) for p in glob.glob(os.path.join(res, user, "cpu-*.json"))) if d]
    return sorted(levels, key=lambda d: d["par"])


def cpu_section(args):
    """CPU per job and jobs/s at 1, 2, 4 at once, against bubblewrap's."""
    out = [f"{CPU_HEADING}\n"]
    levels_by_user = {u: cpu_levels(args.results, u) for u, _ in USERS}
    if not any(levels_by_user.values()):
        out.append("No CPU-per-job results in this run.\n")
        return out
    src = {d.get("tree_source") for ls in levels_by_user.values() for d in ls}
    out.append(
        f"{args.cpu_jobs} jobs of `/bin/true` per variant and level, in {args.cpu_rounds} blocks "
        "interleaved round by round (order rotated), P at once. **CPU** is the CPU time of the "
        "driver's whole process tree (the driver, helpers O/I/C, bwrap, the CLI) "
        + ("from its own cpuacct cgroup (scheduler-exact, every descendant counted)"
           if src == {"cpuacct"} else f"from {', '.join(sorted(s for s in src if s))} "
           "(getrusage: only waited-for descendants)")
        + "; **kthreads** is the CPU time of all kernel threads during the blocks (namespace "
        "teardown runs partly there; but it also holds every other load's kernel-thread work, "
        "so read it only as a difference between variants); **machine busy** is the share of "
        "all CPUs busy during the blocks (/proc/stat): near 100% the machine was saturated and "
        "system-wide CPU per job cannot be measured from /proc/stat, which is why the tree "
        "figure is the headline. `cli-batch` is one `cachepot-dist-run --batch FILE --pool "
        "max(2,P) --jobs P` per block (its start-up and pool fill are spread over the block's "
        "jobs), `cli-batch-reuse` the same with `--reuse 50`; `cli` is one `cachepot-dist-run` "
        "per job; `lib-warm` the library with a pool of max(2,P) filled before the first block; "
        "`lib-reuse` the same pool with `jobs_per_helper` 50 (a helper serves 50 jobs in "
        "sequence, docs/REUSE.md); `lib-cold` the library, a helper per job. The driver makes and "
        "removes a build dir per job for every variant, on a tmpfs (bench/run.sh says why). "
        "On a loaded host the ratios "
        "move between runs too (two runs of the same commit, an hour apart, differed by up "
        "to 0.2x): quote a ratio with the run it comes from.\n")
    heads = {}
    for user, title in USERS:
        levels = levels_by_user[user]
        if not levels:
            continue
        out.append(f"### {title}\n")
        out.append("| at once | variant | jobs | fails | CPU ms/job (user + sys) | ÷ bwrap "
                   "| kthreads ms/job | CPU+kthreads ÷ bwrap | wall ms/job | jobs/s | ÷ bwrap "
                   "| machine busy |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for d in levels:
            p = d["par"]
            by = {v["name"]: v for v in d["variants"]}
            bw = by.get("bwrap")

            def per(v, key):
                return v[key] / v["jobs"] / 1000 if v["jobs"] else None

            def cpu(v):
                return per(v, "tree_user_us") + per(v, "tree_sys_us") if v["jobs"] else None

            def rate(v):
                return v["jobs"] / (v["wall_us"] / 1e6) if v["wall_us"] else None

            for v in d["variants"]:
                c, k = cpu(v), per(v, "kthread_us")
                busy = v["sys_busy_us"] / v["sys_total_us"] if v["sys_total_us"] else None
                out.append(
                    f"| {p} | {v['name']} | {v['jobs']} | {v['fails']} | "
                    f"{c:.2f} ({per(v, 'tree_user_us'):.2f} + {per(v, 'tree_sys_us'):.2f}) | "
                    f"{ratio(c, cpu(bw)) if bw else 'n/a'} | {k:.2f} | "
                    f"{ratio(c + k, cpu(bw) + per(bw, 'kthread_us')) if bw else 'n/a'} | "
                    f"{per(v, 'wall_us'):.2f} | {rate(v):.1f} | "
                    f"{ratio(rate(v), rate(bw)) if bw else 'n/a'} | "
                    + ("n/a" if busy is None else f"{busy * 100:.0f}%") + " |")
                if bw and v is not bw:
                    heads[(user, p, v["name"])] = (cpu(v) / cpu(bw), rate(v) / rate(bw),
                                                   v["fails"])
            for v in d["variants"]:
                if v["fails"]:
                    out.append(f"\n`{v['name']}` at {p}: first failure "
                               f"`{v['first_error'].strip()[:300]}`\n")
            out += cpu_ladder(by, cpu, per)
        out.append("")
    rows = []
    for user, title in USERS:
        for (u, p, n), (cr, rr, fails) in sorted(heads.items()):
            if u != user:
                continue
            if p == 1 and n in ("lib-warm", "lib-reuse", "cli-batch", "cli-batch-reuse", "cli"):
                goal = 1.0 if n == "cli" else 0.5
                rows.append((f"{title}: CPU per job `{n}` ≤ {goal}x bubblewrap's", f"{cr:.2f}x",
                             "yes" if cr <= goal and not fails else "no"))
            if n in ("lib-warm", "lib-reuse", "cli-batch", "cli-batch-reuse"):
                rows.append((f"{title}: jobs/s `{n}` at {p} at once ≥ 2x bubblewrap's",
                             f"{rr:.2f}x", "yes" if rr >= 2 and not fails else "no"))
    if rows:
        out.append("### Targets of issue 16 (CPU of the process tree)\n")
        out.append("| target | measured | met |\n|---|---|---|")
        out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
        out.append("")
    return out


def cpu_ladder(by, cpu, per):
    """Differences between the floors of one level: what each part costs."""
    def tot(n):
        v = by.get(n)
        return cpu(v) + per(v, "kthread_us") if v and v["jobs"] and not v["fails"] else None

    steps = [("one process spawned and exec'd (static `true`)", None, "floor-bare"),
             ("the helper exec'd and dynamically linked, over a static `true`", "floor-bare",
              "floor-helper-exec"),
             ("a user namespace (+ the `unshare` binary's exec and linking)", "floor-bare",
              "floor-userns"),
             ("a network namespace", "floor-userns", "floor-userns-netns"),
             ("mount, PID, IPC, UTS namespaces and a fork", "floor-userns-netns",
              "floor-all-ns"),
             ("bubblewrap over the namespace floor (its mounts, pivot_root, its pid 1)",
              "floor-all-ns", "bwrap"),
             ("`lib-cold` over the namespace floor (the helper's exec, mounts, overlay, "
              "seccomp, protocol)", "floor-all-ns", "lib-cold"),
             ("what reuse saves per job (the helper's spawn and exec, its user namespace; "
              "docs/REUSE.md)", "lib-reuse", "lib-warm")]
    rows = []
    for what, a, b in steps:
        tb, ta = tot(b), (tot(a) if a else 0.0)
        if tb is None or ta is None:
            continue
        rows.append(f"| {what} | `{b}`" + (f" − `{a}`" if a else "") + f" | {tb - ta:.2f} |")
    if not rows:
        return []
    return ["\nWhere the CPU goes (CPU + kthreads per job, differences between the floors "
            "measured in the same blocks; docs/MEASUREMENTS.md has the profile):\n",
            "| part | variants | ms/job |", "|---|---|---|"] + rows + [""]


def distcc_section(text):
    """bench/distcc.sh's section of an existing RESULTS.md (between its markers), or ""."""
    begin, end = text.find("<!-- distcc:begin"), text.find("<!-- distcc:end -->")
    if begin >= 0 and end > begin:
        return text[begin:end + len("<!-- distcc:end -->")]
    return ""


def splice_cpu(path, section, header):
    """Replace the CPU section of an existing RESULTS.md (the last one but
    bench/distcc.sh's, which is kept after it)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        text = ""
    distcc = distcc_section(text)
    keep = text.split(f"\n{CPU_HEADING}\n")[0].rstrip("\n")
    if distcc:
        keep = keep.replace(distcc, "").rstrip("\n")
    with open(path, "w") as f:
        f.write(keep + "\n\n" + "\n".join(header + section) + "\n")
        if distcc:
            f.write("\n" + distcc + "\n")


# Lua batches at other levels than 2 at once, per user (issue 16's target).
LUA_MORE = {}


def lua_issue16_rows(luas):
    """Issue 16: Lua wall with 2 and 4 at once within 1.02x of bare."""
    rows = []
    for lua in luas:
        if not lua:
            continue
        for n in [n for n in lua["med"] if n.startswith("lib-") or n == "cli"]:
            r = lua["paired"].get(n)
            c = lua["cmp"].get(n)
            same = c and c["identical"] == lua["jobs"]
            rows.append((f"Lua wall `{n}` at {lua['par']} at once ≤ 1.02x bare (issue 16)",
                         ("n/a (jobs failed)" if r is None else f"{r:.2f}x") + ", "
                         f"{c['identical'] if c else 0}/{lua['jobs']} identical",
                         "yes" if r is not None and r <= 1.02 and same else "no"))
    return rows


def targets(head, args, user=None):
    """Issue 7's targets against the figures of this run (unprivileged first)."""
    ov, st, lua, stream, conc = head
    rows = []
    med = ov.get("med", {})
    bare, bw_over = med.get("bare"), ov.get("bw_over")
    libs = sorted(n for n in med if n.startswith("lib-"))
    for n in libs:
        over = med[n] - bare if bare is not None else None
        r = over / bw_over if over is not None and bw_over else None
        rows.append((f"per-job overhead `{n}` ≤ bubblewrap's (aim 0.5x)",
                     "n/a" if r is None else f"{r:.2f}x of bwrap's",
                     "n/a" if r is None else ("yes" if r <= 1 else "no")))
    if lua:
        for n in [n for n in lua["med"] if n.startswith("lib-") or n == "cli"]:
            r = lua["paired"].get(n)
            c = lua["cmp"].get(n)
            same = c and c["identical"] == lua["jobs"]
            rows.append((f"Lua wall `{n}` ≤ 1.05x bare, objects identical",
                         ("n/a (jobs failed)" if r is None else f"{r:.2f}x") + ", "
                         f"{c['identical'] if c else 0}/{lua['jobs']} identical",
                         "yes" if r is not None and r <= 1.05 and same else "no"))
    for kind in ("stdout", "file"):
        for n in libs:
            if (kind, n) not in stream:
                rows.append((f"streaming {kind} `{n}` ≥ 1 GiB/s, helper and parent ≤ 16 MiB",
                             "n/a (the job failed, see section 4)", "no"))
    for (kind, n), (thr, self_, hwm) in sorted(stream.items()):
        if n.startswith("lib-"):
            ok = thr >= 1024 and self_ <= 16 and hwm and hwm <= 16
            rows.append((f"streaming {kind} `{n}` ≥ 1 GiB/s, helper and parent ≤ 16 MiB",
                         f"{thr:.0f} MiB/s, parent {self_:.1f} MiB, helper {hwm:.1f} MiB",
                         "yes" if ok else "no"))
    rates = conc.get("rates", {})
    for n in libs:
        if rates.get((n, 1)) and (n, 2) in rates:
            sc = rates[(n, 2)] / (2 * rates[(n, 1)])
            rows.append((f"concurrency `{n}`: jobs/s at 2 ≥ 0.9 × 2 × at 1", f"{sc:.2f}",
                         "yes" if sc >= 0.9 else "no"))
    if conc.get("bad"):
        b = conc["bad"]
        rows.append(("concurrency: zero failures, zero leftovers (cli and lib, every level)",
                     f"{b['fails']} failures, {b['leftovers']} leftovers",
                     "yes" if b["fails"] == 0 and b["leftovers"] == 0 else "no"))
    if not rows:
        return []
    out = ["## Targets of issue 7 (headline user)\n", "| target | measured | met |",
           "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    out.append("")
    lua16 = lua_issue16_rows([lua] + LUA_MORE.get(user, []))
    if lua16:
        out += ["### Lua targets of issue 16 (headline user)\n", "| target | measured | met |",
                "|---|---|---|"]
        out += [f"| {a} | {b} | {c} |" for a, b, c in lua16]
        out.append("")
    return out



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--status", default="complete")
    ap.add_argument("--missing", default="")
    ap.add_argument("--quick", default="0")
    ap.add_argument("--stream-bytes", type=int, default=1 << 30)
    ap.add_argument("--lua", default="lua")
    ap.add_argument("--lua-tus", default="?")
    ap.add_argument("--helper", default="")
    ap.add_argument("--bwrap-flags", default="")
    ap.add_argument("--load-start", default="")
    ap.add_argument("--cpu-only", default="0")
    ap.add_argument("--cpu-jobs", default="?")
    ap.add_argument("--cpu-rounds", default="?")
    ap.add_argument("--cpu-tree", default="")
    args = ap.parse_args()

    if args.cpu_only == "1":
        with open("/proc/loadavg") as f:
            load_end = " ".join(f.read().split()[:3])
        note = [f"{CPU_HEADING}\n",
                f"*This section alone was re-measured by `{args.command}` on "
                f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} "
                f"(commit {sh('git -C %s rev-parse --short HEAD' % os.path.dirname(__file__))}, "
                f"load average {args.load_start or 'n/a'} at start, {load_end} at end"
                + (", quick" if args.quick == "1" else "")
                + "); the sections above come from the full run described at the top.*\n"]
        splice_cpu(args.out, cpu_section(args)[1:], note)
        return

    body = []
    heads = {}
    for user, title in USERS:
        if not os.path.isdir(os.path.join(args.results, user)):
            continue
        body.append(f"## {title}\n")
        body.append("### 1. Per-job overhead (`/bin/true`)\n")
        ov = overhead_section(body, user, args.results)
        body.append("### 2. Where the time goes (per-stage timings)\n")
        st = stages_section(body, user, args.results, ov)
        body.append("### 3. Real workload: Lua 5.4\n")
        lua = lua_section(body, user, args.results, args)
        if os.path.exists(os.path.join(args.results, user, "lua-4.json")):
            body.append("#### 4 at once\n")
            LUA_MORE[user] = [lua_section(body, user, args.results, args, 4)]
        body.append("### 4. Streaming\n")
        stream = stream_section(body, user, args.results, args)
        body.append("### 5. Concurrency\n")
        conc = conc_section(body, user, args.results)
        heads[user] = (ov, st, lua, stream, conc)

    out = ["# Benchmark results\n",
           "Produced by `bench/run.sh` (see bench/README.md); every number below was measured "
           "in this one run. Medians of many runs; ratios are against the baselines of the same "
           "run.\n"]
    if args.quick == "1":
        out.append("**Quick run (`--quick`): few samples, smaller streams; indicative only.**\n")
    out.append("| | |\n|---|---|")
    for k, v in machine():
        out.append(f"| {k} | {v} |")
    with open("/proc/loadavg") as f:
        load_end = " ".join(f.read().split()[:3])
    out.append(f"| load average (1/5/15 min) | {args.load_start or 'n/a'} at start, {load_end} at end "
               "(the machine is shared: a load far above the core count means noisy figures) |")
    out.append(f"| command | `{args.command}` |")
    out.append(f"| status | {args.status} |\n")
    if args.missing.strip():
        out.append("**Not measured, because these were missing:**\n")
        out += [f"- {m}" for m in args.missing.strip().splitlines()]
        out.append("")

    # Headline: the unprivileged figures when they exist.
    hu = "nobody" if "nobody" in heads else ("root" if "root" in heads else None)
    if hu:
        ov, st, lua, stream, conc = heads[hu]
        out.append(f"## Headline ({dict(USERS)[hu]})\n")
        med = ov.get("med", {})
        bare, bw_over = med.get("bare"), ov.get("bw_over")
        for name in sorted(med):
            if name in ("bare",):
                continue
            over = med[name] - bare if bare is not None and med[name] is not None else None
            out.append(f"- per-job overhead `{name}`: {ms(over)} ms over bare "
                       f"({ratio(over, bw_over)} of bubblewrap's {ms(bw_over)} ms)")
        if lua:
            for name, w in lua["med"].items():
                if name != "bare":
                    c = lua["cmp"].get(name)
                    pr = lua["paired"].get(name)
                    out.append(f"- Lua ({lua['jobs']} TUs, 2 at once) `{name}`: "
                               + (f"{pr:.2f}x bare wall" if pr else "jobs failed")
                               + (f", objects identical {c['identical']}/{lua['jobs']}"
                                  if c else ""))
        for (kind, name), (thr, self_, hwm) in sorted(stream.items()):
            if name.startswith("lib") or name == "cli":
                out.append(f"- streaming {kind} `{name}`: {thr:.0f} MiB/s, driver maxrss "
                           f"{self_:.1f} MiB, helper VmHWM "
                           + (f"{hwm:.1f} MiB" if hwm else "n/a"))
        for src in sorted({r[0] for r in st if r[0].startswith("lib-")}):
            # The helper's own stages on the job's clock, slowest first.
            top = sorted((r for r in st if r[0] == src), key=lambda r: -r[2])[:6]
            out.append(f"- slowest helper stages `{src}` (median µs): " + ", ".join(
                f"{r[1]} {r[2]}" for r in top))
        out.append("")
    if hu:
        out += targets(heads[hu], args, hu)
    out.append("## How\n")
    out.append(f"- bubblewrap baseline: `bwrap {args.bwrap_flags} --bind ROOT / --proc /proc "
               "--dev /dev --chdir / -- /bin/true` on a root made before the run (static "
               "`true`, `fill`, busybox). The same root is the library's and the CLI's "
               "toolchain dir, so every variant execs the very same static binary.")
    out.append("- Build: the project and the driver in Release (`-O2 -DNDEBUG`, no sanitizers), "
               "`build-bench/`. `lib-cold`: `cps_run()` with a helper spawned per job; "
               "`lib-warm`: `cps_run()` with a `cps_pool` of max(2, jobs at once) helpers, "
               "filled before timing starts; `lib-reuse`: the same pool with `jobs_per_helper` "
               "50 (each helper serves 50 jobs in sequence); `cli`: `cachepot-dist-run` per job (its own "
               "process start-up included).")
    out.append("- unshare floor: `unshare -Urmpinu --fork ROOT/bin/true`.")
    out.append("- Lua: each `.c` of Lua's `src/` preprocessed on the host with the flags of "
               "Lua's Makefile (`gcc -std=gnu99 -O2 -Wall -Wextra -DLUA_COMPAT_5_3 "
               "-DLUA_USE_LINUX -E`), then compiled with `gcc -std=gnu99 -O2 -Wall -Wextra "
               "-x cpp-output -c X.i -o X.o`; sandboxed variants use the host gcc packaged by "
               "`cachepot-dist-toolchain`; objects compared with `cmp`.")
    out.append("- Unprivileged runs: every binary, root and toolchain copied under a fresh "
               "`mktemp -d` (mode 755), driver run with `setpriv --reuid=65534 --regid=65534 "
               "--clear-groups`.\n")
    out += body
    out += cpu_section(args)
    # bench/distcc.sh owns the section between its markers: keep it.
    try:
        old = open(args.out).read()
    except OSError:
        old = ""
    if distcc_section(old):
        out.append(distcc_section(old))
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
