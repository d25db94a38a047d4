#!/usr/bin/env python3
"""Turns bench result JSON files (one per added RTT) into markdown tables, a PNG plot, and the
latest.md / latest.png copies. Usage: report.py --results DIR RESULT.json..."""
import argparse
import glob
import json
import os
import shutil

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TOOL_NAMES = {
    "ours": "wal-push / wal-fetch",
    "curl": "curl --aws-sigv4",
    "aws": "aws s3 cp",
    "barman": "barman-cloud-wal-*",
    "pgbackrest": "pgBackRest archive-push/-get",
}
COMPRESSION = {
    "ours": "zstd (default)",
    "curl": "none",
    "aws": "none",
    "barman": "none (default)",
    "pgbackrest": "gz (default)",
}
PITR_NAMES = {
    "ours": "wal-fetch, no prefetch",
    "ours-prefetch": "wal-fetch, prefetch",
    "aws": "aws s3 cp",
    "barman": "barman-cloud-wal-restore",
    "pgbackrest": "pgBackRest archive-get",
    "pgbackrest-async": "pgBackRest archive-get, async (its prefetch)",
}


def ms(seconds):
    return "–" if seconds is None else f"{seconds * 1000:.0f}"


def ratio(value, reference):
    if value is None or not reference:
        return "–"
    return f"{value / reference:.2f}×"


def mib(kib):
    return "–" if kib is None else f"{kib / 1024:.1f}"


def single_section(result):
    single = result.get("single")
    if not single:
        return []
    tools = single["tools"]
    ours = tools.get("ours") or {}
    ours_push = (ours.get("push") or {}).get("wall_s")
    ours_fetch = (ours.get("fetch") or {}).get("wall_s")
    lines = [
        f"### 1. One push and one fetch of a real {single['segment_bytes'] // (1024 * 1024)} MiB WAL segment "
        f"(`{single['segment']}`, from `pgbench -i`)",
        "",
        f"Median wall time of {result['runs']} runs after one warm-up, in ms; `× ours` = the tool's time "
        "divided by ours (above 1 = slower than ours). CPU = user+sys of the client process (median), "
        "RSS = peak resident set (largest of the runs).",
        "",
        "| tool | compression | push ms | push × ours | fetch ms | fetch × ours | push CPU ms | fetch CPU ms "
        "| push RSS MiB | fetch RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for tool, entry in tools.items():
        push, fetch = entry.get("push") or {}, entry.get("fetch") or {}
        lines.append(
            f"| {TOOL_NAMES.get(tool, tool)} | {COMPRESSION.get(tool, '?')} | {ms(push.get('wall_s'))} | "
            f"{ratio(push.get('wall_s'), ours_push)} | {ms(fetch.get('wall_s'))} | {ratio(fetch.get('wall_s'), ours_fetch)} | "
            f"{ms(push.get('cpu_s'))} | {ms(fetch.get('cpu_s'))} | {mib(push.get('max_rss_kib'))} | "
            f"{mib(fetch.get('max_rss_kib'))} |")
        if entry.get("error"):
            notes.append(f"- {TOOL_NAMES.get(tool, tool)}: did not complete: `{one_line(entry['error'])}`")
    spread = [f"{TOOL_NAMES.get(t, t)} push {ms(e['push']['wall_min_s'])}–{ms(e['push']['wall_max_s'])}, "
              f"fetch {ms(e['fetch']['wall_min_s'])}–{ms(e['fetch']['wall_max_s'])}"
              for t, e in tools.items() if e.get("push") and e.get("fetch")]
    lines += ["", "Range (min–max ms): " + "; ".join(spread) + "."]
    first = [f"{TOOL_NAMES.get(t, t)} push {ms(e['first_call_wall_s'].get('push'))}, "
             f"fetch {ms(e['first_call_wall_s'].get('fetch'))}"
             for t, e in tools.items() if e.get("first_call_wall_s")]
    lines += ["", "The measured fetches write into one `pg_wal` per tool, as a recovery does, so from the second "
                  "call on wal-fetch finds its hint of where the previous segment was (one GET); the very first "
                  "call, cold (no hint: LIST of the date partitions, probe, GET), is the warm-up round, shown "
                  "here but not in the medians. First calls (ms): " + "; ".join(first) + "."]
    return lines + ([""] + notes if notes else []) + [""]


def startup_section(result):
    table = result.get("startup")
    if not table:
        return []
    ours = (table.get("ours") or {}).get("wall_s")
    lines = ["### 0. Start-up alone (`--version`, no request; median)", "",
             "| tool | wall ms | × ours | CPU ms | peak RSS MiB |", "|---|---:|---:|---:|---:|"]
    for tool, entry in table.items():
        lines.append(f"| {TOOL_NAMES.get(tool, tool)} | {entry['wall_s'] * 1000:.1f} | {ratio(entry['wall_s'], ours)} | "
                     f"{entry['cpu_s'] * 1000:.1f} | {mib(entry['max_rss_kib'])} |")
    return lines + [""]


def one_line(text):
    return " ".join(str(text).split())[:400].replace("|", "/").replace("`", "'")


def sustained_section(result):
    sustained = result.get("sustained")
    if not sustained:
        return []
    tools = sustained["tools"]
    ours_rate = (tools.get("ours") or {}).get("archived_per_s")
    rate = f", rate-limited to {sustained['rate_tps']:g} tx/s" if sustained.get("rate_tps") else ", unthrottled"
    lines = [
        f"### 2. Sustained archiving under pgbench load ({sustained['seconds']} s, "
        f"{sustained['clients']} clients{rate}; 16 MiB segments)",
        "",
        f"Workload: {sustained['workload']}. Backlog = segments completed but not yet archived "
        "(`.ready` files in `pg_wal/archive_status`, sampled every 0.5 s). `stat lag` = segment of "
        "`pg_current_wal_lsn()` minus `last_archived_wal` of `pg_stat_archiver`, minus 1.",
        "",
        "| archive_command | tps | produced seg/s | archived seg/s | archived × ours | backlog max | backlog mean "
        "| backlog at end of load | stat lag max | drain after load s | failures |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for tool, entry in tools.items():
        if entry.get("error"):
            notes.append(f"- {TOOL_NAMES.get(tool, tool)}: did not complete: `{one_line(entry['error'])}`")
            lines.append(f"| {TOOL_NAMES.get(tool, tool)} | – | – | – | – | – | – | – | – | – | – |")
            continue
        drain = f"{entry['drain_s']}" + ("" if entry.get("drained") else
                                         f" (not drained: {entry.get('backlog_after_drain')} left)")
        lines.append(
            f"| {TOOL_NAMES.get(tool, tool)} | {fmt(entry.get('tps'), 0)} | {fmt(entry['produced_per_s'], 2)} | "
            f"{fmt(entry['archived_per_s'], 2)} | "
            f"{ratio(ours_rate, entry['archived_per_s']) if tool != 'ours' else '1.00×'} | {entry['backlog_max']} | "
            f"{fmt(entry['backlog_mean'], 1)} | {entry['backlog_end_of_load']} | {entry['stat_lag_max']} | {drain} | "
            f"{entry.get('failed_count')} |")
    lines += ["", "`archived × ours` here = ours' archived seg/s divided by the tool's (above 1 = ours archived more)."]
    return lines + ([""] + notes if notes else []) + [""]


def fmt(value, digits):
    return "–" if value is None else f"{value:.{digits}f}"


def pitr_section(result):
    pitr = result.get("pitr")
    if not pitr:
        return []
    variants = pitr["variants"]
    reference = (variants.get("ours") or {}).get("seconds")
    lines = [
        f"### 3. PITR replay of {pitr['segments']} segments of {pitr['segment_mib']} MiB "
        f"(base backup + archived WAL of pgbench UPDATE load, recovery to a named restore point, promote)",
        "",
        "Time from `pg_ctl start` to the end of archive recovery (recovery.signal removed); "
        "`× ours` = variant's time divided by ours without prefetch.",
        "",
        "| restore_command | total s | ms per segment | × ours (no prefetch) |",
        "|---|---:|---:|---:|",
    ]
    notes = []
    for variant, entry in variants.items():
        if entry.get("error"):
            lines.append(f"| {PITR_NAMES.get(variant, variant)} | – | – | – |")
            notes.append(f"- {PITR_NAMES.get(variant, variant)}: did not complete: `{one_line(entry['error'])}`")
            continue
        lines.append(f"| {PITR_NAMES.get(variant, variant)} | {entry['seconds']:.1f} | {entry['per_segment_ms']:.0f} | "
                     f"{ratio(entry['seconds'], reference)} |")
    if not pitr.get("prefetch_env"):
        notes.append("- wal-fetch prefetch was not measured (no `--prefetch-env` given).")
    else:
        notes.append(f"- prefetch on: `{' '.join(pitr['prefetch_env'])}`; off: `{' '.join(pitr['no_prefetch_env']) or '(defaults)'}`")
    return lines + [""] + notes + [""]


def per_segment_section(result):
    single = result.get("single")
    if not single:
        return []
    lines = ["### 4. Client CPU time and peak memory per 16 MiB segment", "",
             "| tool | CPU ms per push | CPU ms per fetch | peak RSS MiB push | peak RSS MiB fetch | CPU × ours (push / fetch) |",
             "|---|---:|---:|---:|---:|---:|"]
    ours = single["tools"].get("ours") or {}
    ours_push_cpu = (ours.get("push") or {}).get("cpu_s")
    ours_fetch_cpu = (ours.get("fetch") or {}).get("cpu_s")
    for tool, entry in single["tools"].items():
        push, fetch = entry.get("push") or {}, entry.get("fetch") or {}
        lines.append(f"| {TOOL_NAMES.get(tool, tool)} | {ms(push.get('cpu_s'))} | {ms(fetch.get('cpu_s'))} | "
                     f"{mib(push.get('max_rss_kib'))} | {mib(fetch.get('max_rss_kib'))} | "
                     f"{ratio(push.get('cpu_s'), ours_push_cpu)} / {ratio(fetch.get('cpu_s'), ours_fetch_cpu)} |")
    lines += ["", "The S3 server's own CPU is not included; wal-fetch's detached prefetch worker (if any) is not a "
                  "child of the measured process and is not included either."]
    return lines + [""]


def targets_section(result):
    """Issue 6's targets, stated as met / not met with the figures of this run."""
    lines = ["### Targets of issue 6 (this run)", ""]
    single = (result.get("single") or {}).get("tools", {})
    ours = single.get("ours") or {}

    def wall(tool, phase):
        return ((single.get(tool) or {}).get(phase) or {}).get("wall_s")

    for phase in ("push", "fetch"):
        mine, floor = wall("ours", phase), wall("curl", phase)
        if mine and floor:
            verdict = "met" if mine <= 1.3 * floor else "not met"
            lines.append(f"- {phase}: ours {ms(mine)} ms vs curl {ms(floor)} ms = {mine / floor:.2f}× curl "
                         f"(target ≤ 1.3×): **{verdict}**")
        for peer in ("aws", "barman"):
            theirs = wall(peer, phase)
            if mine and theirs:
                verdict = "met" if theirs >= 5 * mine else "not met"
                lines.append(f"- {phase}: {TOOL_NAMES[peer]} {ms(theirs)} ms = {theirs / mine:.1f}× ours "
                             f"(target ≥ 5×): **{verdict}**")
    if not ours:
        lines.append("- single calls of ours not measured")
    pitr = (result.get("pitr") or {}).get("variants", {})
    plain, prefetch = (pitr.get("ours") or {}).get("seconds"), (pitr.get("ours-prefetch") or {}).get("seconds")
    rtt_note = "" if result["rtt_ms"] == 20 else f" (target is stated for 20 ms RTT; this run: {result['rtt_ms']:g} ms)"
    if plain and prefetch:
        verdict = "met" if plain >= 3 * prefetch else "not met"
        lines.append(f"- PITR: prefetch {prefetch:.1f} s vs no prefetch {plain:.1f} s = {plain / prefetch:.1f}× faster "
                     f"(target ≥ 3×){rtt_note}: **{verdict}**")
    else:
        lines.append(f"- PITR prefetch speed-up: not measured (prefetch variant missing){rtt_note}")
    best_ours = min([v for v in (plain, prefetch) if v] or [None]) if (plain or prefetch) else None
    peers = {k: v.get("seconds") for k, v in pitr.items() if not k.startswith("ours") and v.get("seconds")}
    if best_ours and peers:
        fastest_peer = min(peers, key=peers.get)
        verdict = "met" if best_ours < peers[fastest_peer] else "not met"
        lines.append(f"- PITR: ours (best variant) {best_ours:.1f} s vs fastest peer {PITR_NAMES.get(fastest_peer, fastest_peer)} "
                     f"{peers[fastest_peer]:.1f} s (target: faster than every peer){rtt_note}: **{verdict}**")
    sustained = (result.get("sustained") or {}).get("tools", {})
    mine, aws = sustained.get("ours") or {}, sustained.get("aws") or {}
    if mine.get("backlog_max") is not None:
        verdict = "met" if mine["backlog_max"] < 2 else "not met"
        behind = ""
        if aws.get("backlog_max") is not None:
            behind = (f"; aws s3 cp backlog max {aws['backlog_max']}, at end of load {aws['backlog_end_of_load']} "
                      f"({'falls behind' if aws['backlog_end_of_load'] >= 2 else 'keeps up at this load'})")
        lines.append(f"- Under load: ours backlog max {mine['backlog_max']} segments (target < 2){behind}{rtt_note}: "
                     f"**{verdict}**")
    return lines + [""]


def markdown(result):
    machine = result["machine"]
    delay = result.get("delay", {})
    lines = [
        f"## wal-archive benchmark — added RTT {result['rtt_ms']:g} ms — {result['started']}",
        "",
        f"- Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory_gib']} GiB memory, "
        f"{machine['os']}, kernel {machine['kernel']}",
        f"- Network: {delay.get('mode')}: {delay.get('note')}",
        "- S3 server: scripts/local-s3-server (moto, signature checking, plain HTTP on 127.0.0.1); "
        "pgBackRest reaches it through a socat TLS front (it speaks only HTTPS to S3)",
        f"- Command: `bench/run {result.get('command', '')}`{' (quick mode)' if result.get('quick') else ''}",
        "- Versions: " + "; ".join(f"{k}: {v}" for k, v in result["versions"].items()),
        "",
    ]
    lines += targets_section(result)
    lines += startup_section(result)
    lines += single_section(result)
    lines += sustained_section(result)
    lines += pitr_section(result)
    lines += per_segment_section(result)
    return "\n".join(lines)


def latest_per_rtt(results_dir, given):
    """The given results, completed by the newest result of each other RTT found in the folder."""
    chosen = {}
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json")), key=os.path.getmtime):
        with open(path) as f:
            data = json.load(f)
        if data.get("quick") == given[0].get("quick"):
            chosen[data["rtt_ms"]] = data
    for data in given:
        chosen[data["rtt_ms"]] = data
    return [chosen[k] for k in sorted(chosen)]


def plot(results, path):
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]
    fig, axes = plt.subplots(1, 3, figsize=(17, 6.2))
    rtts = [r["rtt_ms"] for r in results]
    width = 0.8 / max(1, len(results))
    for panel, phase in enumerate(("push", "fetch")):
        ax = axes[panel]
        tools = []
        for r in results:
            for t in (r.get("single") or {}).get("tools", {}):
                if t not in tools:
                    tools.append(t)
        for index, r in enumerate(results):
            values = []
            for t in tools:
                entry = ((r.get("single") or {}).get("tools", {}).get(t) or {}).get(phase) or {}
                values.append((entry.get("wall_s") or 0) * 1000)
            xs = [i + (index - (len(results) - 1) / 2) * width for i in range(len(tools))]
            bars = ax.bar(xs, values, width, label=f"+{r['rtt_ms']:g} ms RTT ({r['delay']['mode']})",
                          color=colors[index % len(colors)])
            for bar, value in zip(bars, values):
                ax.annotate("n/a" if value == 0 else f"{value:.0f}", (bar.get_x() + bar.get_width() / 2, max(value, 1)),
                            ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(tools)))
        ax.set_xticklabels([TOOL_NAMES.get(t, t).replace(" / ", "/\n").replace(" ", "\n", 1) for t in tools], fontsize=8)
        ax.set_ylabel("wall time, ms (median)")
        segment = ((results[0].get("single") or {}).get("segment_bytes") or 16 << 20) >> 20
        ax.set_title(f"one {phase} of a {segment} MiB WAL segment")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    ax = axes[2]
    variants = []
    for r in results:
        for v in (r.get("pitr") or {}).get("variants", {}):
            if v not in variants:
                variants.append(v)
    for index, r in enumerate(results):
        values = [((r.get("pitr") or {}).get("variants", {}).get(v) or {}).get("seconds") or 0 for v in variants]
        xs = [i + (index - (len(results) - 1) / 2) * width for i in range(len(variants))]
        bars = ax.bar(xs, values, width, label=f"+{r['rtt_ms']:g} ms RTT ({r['delay']['mode']})",
                      color=colors[index % len(colors)])
        for bar, value in zip(bars, values):
            ax.annotate("n/a" if value == 0 else f"{value:.1f}", (bar.get_x() + bar.get_width() / 2, max(value, 0.1)),
                        ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(variants)))
    ax.set_xticklabels([PITR_NAMES.get(v, v).replace(", ", ",\n").replace(" archive-get", "\narchive-get")
                        for v in variants], fontsize=8)
    pitr = next((r["pitr"] for r in results if r.get("pitr")), None)
    if pitr:
        ax.set_title(f"PITR replay of {pitr['segments']} × {pitr['segment_mib']} MiB segments")
    ax.set_ylabel("total restore time, s")
    ax.grid(axis="y", alpha=0.3)
    if variants:
        ax.legend(fontsize=8)
    else:
        ax.set_title("PITR replay")
        ax.text(0.5, 0.5, "not measured in this run", ha="center", va="center", transform=ax.transAxes)
    machine = results[0]["machine"]
    fig.suptitle(f"wal-archive vs peers — local moto S3 — {machine['nproc']} CPUs {machine['cpu']} — "
                 f"{results[-1]['started'][:10]}" + (" — QUICK MODE" if results[0].get("quick") else "")
                 + f" — RTT {', '.join(f'{r:g}' for r in rtts)} ms", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    given = []
    for path in args.files:
        with open(path) as f:
            given.append(json.load(f))
    for path, result in zip(args.files, given):
        with open(path[:-5] + ".md", "w") as out:
            out.write(markdown(result) + "\n")
    results = latest_per_rtt(args.results, given)
    stem = os.path.basename(args.files[0])[:10]
    suffix = "-quick" if given[0].get("quick") else ""
    png = os.path.join(args.results, f"{stem}{suffix}.png")
    plot(results, png)
    if not given[0].get("quick"):
        shutil.copyfile(png, os.path.join(args.results, "latest.png"))
        with open(os.path.join(args.results, "latest.md"), "w") as out:
            out.write("# Latest benchmark results\n\n![plot](latest.png)\n\n" +
                      "\n\n".join(markdown(r) for r in results) + "\n")
    print(png)


if __name__ == "__main__":
    main()
