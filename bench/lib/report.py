#!/usr/bin/env python3
"""Turns one bench result JSON file into a markdown report and a PNG plot, and, for a full
(not --quick) run, the latest.md / latest.png copies. Usage: report.py --results DIR RESULT.json"""
import argparse
import json
import os
import shutil

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAMES = {
    "ours": "wal-push/wal-fetch (defaults)",
    "ours-nocomp": "wal-push/wal-fetch, compression off",
    "ours-noprefetch": "wal-fetch, prefetch off",
    "curl-zstd": "curl, the stored zstd object (fair floor)",
    "curl-raw": "curl, raw segment",
    "aws": "aws s3 cp",
    "barman": "barman-cloud (defaults)",
    "barman-lz4": "barman-cloud --lz4",
    "pgbackrest": "pgBackRest (defaults)",
    "pgbackrest-zst": "pgBackRest zst-1",
    "pgbackrest-async": "pgBackRest zst-1 async",
    "cp": "cp from local disk (floor)",
}
PEERS = ("aws", "barman", "barman-lz4", "pgbackrest", "pgbackrest-zst", "pgbackrest-async")


def name(tool):
    return NAMES.get(tool, tool)


def ms(seconds, digits=0):
    return "–" if seconds is None else f"{seconds * 1000:.{digits}f}"


def ratio(value, reference):
    if value is None or not reference:
        return "–"
    return f"{value / reference:.2f}×"


def mib(kib):
    return "–" if kib is None else f"{kib / 1024:.1f}"


def one_line(text):
    return " ".join(str(text).split())[:400].replace("|", "/").replace("`", "'")


def verdict(ok):
    return "**met**" if ok else "**not met**"


def wall(result, shape, tool, phase):
    return ((((result.get("single") or {}).get(shape) or {}).get("tools", {}).get(tool) or {}).get(phase) or {}).get("wall_s")


def shape_label(result, shape):
    return (result.get("shapes", {}).get(shape) or {}).get("label", shape)


# ---------------------------------------------------------------------------------------------

def targets(result):
    lines = ["## Targets (this run)", ""]
    for phase in ("fetch", "push"):
        mine, floor = wall(result, "loopback", "ours", phase), wall(result, "loopback", "curl-zstd", phase)
        if mine and floor:
            lines.append(f"- {phase} at loopback within 1.3× the fair floor (curl sending/receiving the very zstd "
                         f"object we store): ours {ms(mine)} ms, floor {ms(floor)} ms = {mine / floor:.2f}×: "
                         f"{verdict(mine <= 1.3 * floor)}")
        else:
            lines.append(f"- {phase} at loopback vs fair floor: not measured")
        work = result.get("fetch_work") or {}
        if phase == "fetch" and mine and floor and work.get("decode_ms"):
            lines.append(f"  - what the floor does not do: decoding the object alone takes {work['decode_ms']:.1f} ms here, "
                         f"SHA-256 of the decoded segment {work['sha256_ms']:.1f} ms, writing it {work['write_ms']:.1f} ms "
                         f"(section 1); ours above the floor: {ms(mine - floor)} ms")
    hit = result.get("pushed_ahead") or {}
    if hit.get("hit_ms_median") is not None:
        lines.append(f"- a push of a segment push-ahead already stored within 2× start-up: {hit['hit_ms_median']:.1f} ms "
                     f"(median of {hit['calls']}, max {hit['hit_ms_max']:.1f}) vs start-up {hit['startup_ms_median']:.1f} ms "
                     f"= {hit['hit_ms_median'] / hit['startup_ms_median']:.2f}×: "
                     f"{verdict(hit['hit_ms_median'] <= 2 * hit['startup_ms_median'])}")
    else:
        lines.append(f"- pushed-ahead record hit: not measured {one_line(hit.get('error', ''))}")
    for shape, sustained in (result.get("sustained") or {}).items():
        ours = sustained["tools"].get("ours") or {}
        if ours.get("backlog_max") is not None:
            lines.append(f"- archiver backlog below 2 under pgbench at {shape_label(result, shape)}: max "
                         f"{ours['backlog_max']}, mean {ours['backlog_mean']:.2f}, {ours['samples_at_2_or_more']} of "
                         f"{ours['samples']} samples at 2 or more, {ours['produced_per_s']:.2f} segments/s produced: "
                         f"{verdict(ours['backlog_max'] < 2)}")
    for key in ("pitr", "pitr16"):
        for shape, pitr in (result.get(key) or {}).items():
            variants = pitr["variants"]
            floor = (variants.get("cp") or {}).get("seconds")
            prefetch = (variants.get("ours") or {}).get("seconds")
            plain = (variants.get("ours-noprefetch") or {}).get("seconds")
            what = f"{pitr['segments']} × {pitr['segment_mib']} MiB segments at {shape_label(result, shape)}"
            if floor and prefetch:
                target = " (target stated at +20 ms)" if shape == "loopback" else ""
                lines.append(f"- replay with prefetch within 1.2× the local cp floor, {what}: ours {prefetch:.1f} s, "
                             f"cp {floor:.1f} s = {prefetch / floor:.2f}×{target}: {verdict(prefetch <= 1.2 * floor)}")
            if plain and prefetch and shape != "loopback":
                lines.append(f"- prefetch at least 3× faster than without, {what}: {plain:.1f} s / {prefetch:.1f} s = "
                             f"{plain / prefetch:.1f}×: {verdict(plain >= 3 * prefetch)}")
            peers = {v: e["seconds"] for v, e in variants.items() if v in PEERS and e.get("seconds")}
            if prefetch and peers:
                fastest = min(peers, key=peers.get)
                lines.append(f"- replay faster than every peer, {what}: ours {prefetch:.1f} s, fastest peer "
                             f"{name(fastest)} {peers[fastest]:.1f} s: {verdict(prefetch < peers[fastest])}")
    for shape in ("loopback", "rtt20ms"):
        for phase in ("push", "fetch"):
            mine = wall(result, shape, "ours", phase)
            for peer in ("aws", "barman"):
                theirs = wall(result, shape, peer, phase)
                if mine and theirs:
                    lines.append(f"- {phase} at {shape_label(result, shape)}: {name(peer)} {ms(theirs)} ms = "
                                 f"{theirs / mine:.1f}× ours (target ≥ 5×): {verdict(theirs >= 5 * mine)}")
    return lines + [""]


def peers_beating_us(result):
    lines = ["## Where a peer beats us", ""]
    found = []
    for shape, single in (result.get("single") or {}).items():
        for phase in ("push", "fetch"):
            mine = wall(result, shape, "ours", phase)
            for tool in single["tools"]:
                theirs = wall(result, shape, tool, phase)
                if tool in PEERS and mine and theirs and theirs < mine:
                    found.append(f"- {phase} at {shape_label(result, shape)}: {name(tool)} {ms(theirs)} ms vs ours "
                                 f"{ms(mine)} ms")
    for shape, drain in (result.get("drain") or {}).items():
        mine = (drain["tools"].get("ours") or {}).get("per_s")
        for tool, entry in drain["tools"].items():
            if tool in PEERS and mine and entry.get("per_s") and entry["per_s"] > mine:
                found.append(f"- backlog drain at {shape_label(result, shape)}: {name(tool)} {entry['per_s']:.2f} "
                             f"segments/s vs ours {mine:.2f}")
    for shape, sustained in (result.get("sustained") or {}).items():
        mine = (sustained["tools"].get("ours") or {}).get("backlog_mean")
        for tool, entry in sustained["tools"].items():
            if tool in PEERS and mine is not None and entry.get("backlog_mean") is not None \
                    and entry["backlog_mean"] < mine:
                found.append(f"- archiver backlog under load at {shape_label(result, shape)}: {name(tool)} mean "
                             f"{entry['backlog_mean']:.2f} (max {entry['backlog_max']}) vs ours mean {mine:.2f} "
                             f"(max {sustained['tools']['ours']['backlog_max']})")
    for key in ("pitr", "pitr16"):
        for shape, pitr in (result.get(key) or {}).items():
            mine = (pitr["variants"].get("ours") or {}).get("seconds")
            for variant, entry in pitr["variants"].items():
                if variant in PEERS and mine and entry.get("seconds") and entry["seconds"] < mine:
                    found.append(f"- replay of {pitr['segments']} × {pitr['segment_mib']} MiB at "
                                 f"{shape_label(result, shape)}: {name(variant)} {entry['seconds']:.1f} s vs ours "
                                 f"{mine:.1f} s")
    for shape, single in (result.get("single") or {}).items():
        mine = ((single["tools"].get("ours") or {}).get("push") or {}).get("cpu_s")
        for tool, entry in single["tools"].items():
            theirs = (entry.get("push") or {}).get("cpu_s")
            if tool in PEERS and mine and theirs and theirs < mine and shape == "loopback":
                found.append(f"- client CPU per push: {name(tool)} {ms(theirs)} ms vs ours {ms(mine)} ms")
    return lines + (found or ["- nowhere in this run"]) + [""]


def header(result):
    machine = result["machine"]
    versions = result["versions"]
    pin = result.get("moto_pin")
    moto_line = (f"moto {versions.get('moto')} (project pin {pin}: "
                 f"{'matches' if versions.get('moto') == pin else 'DOES NOT MATCH'})")
    load_start = ", ".join(f"{v:.2f}" for v in result.get("load_average_start", []))
    load_end = ", ".join(f"{v:.2f}" for v in result.get("load_average_end", []))
    lines = [
        f"# wal-archive benchmark — {result['started']}" + (" — QUICK MODE" if result.get("quick") else ""),
        "",
        f"- Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory_gib']} GiB memory, "
        f"{machine['os']}, kernel {machine['kernel']}; load average (1, 5, 15 min) {load_start} at the start, "
        f"{load_end} at the end (other work shares these cores: compare within one run)"
        + (f"; the benchmark ran at nice {result['nice']}, every tool alike" if result.get("nice") else ""),
        f"- Command: `bench/run {result.get('command', '')}`, {result.get('duration_s', '?')} s",
        ("- S3 server: scripts/rgw-server (Ceph RADOS Gateway" if result.get("s3_server") == "rgw" else
         f"- S3 server: scripts/local-s3-server ({moto_line}")
        + ", signature checking, plain HTTP on 127.0.0.1, connections kept open between requests as S3 "
        "keeps them); "
        "pgBackRest reaches it through a socat TLS front (it speaks only HTTPS to S3)",
        "- Versions: " + "; ".join(f"{k}: {v}" for k, v in versions.items()),
        f"- {result.get('walg', '')}",
        "",
        "Network shapes (every figure names the one it was taken at):",
        "",
        "| shape | added RTT | bandwidth | how |",
        "|---|---:|---:|---|",
    ]
    for shape in result.get("shapes", {}).values():
        lines.append(f"| {shape['label']} | {shape['rtt_ms']:g} ms | "
                     f"{(str(int(shape['mbit'])) + ' Mbit/s') if shape['mbit'] else 'unlimited'} | {shape['network']} |")
    lines += ["", "Settings of each tool (the same tool at its defaults and at its best, side by side):", "",
              "| tool | settings |", "|---|---|"]
    used = set()
    for section in ("single", "drain", "sustained", "pitr", "pitr16"):
        for entry in (result.get(section) or {}).values():
            used.update(entry.get("tools", entry.get("variants", {})).keys())
    for tool, text in result.get("settings", {}).items():
        if tool in used:
            lines.append(f"| {name(tool)} | {text} |")
    return lines + [""]


def startup_section(result):
    table = result.get("startup")
    if not table:
        return []
    ours = (table.get("ours") or {}).get("wall_s")
    lines = ["## 0. Start-up alone (`--version`, no request; median)", "",
             "| tool | wall ms | × ours | CPU ms | peak RSS MiB |", "|---|---:|---:|---:|---:|"]
    for tool, entry in table.items():
        lines.append(f"| {tool} | {entry['wall_s'] * 1000:.1f} | {ratio(entry['wall_s'], ours)} | "
                     f"{entry['cpu_s'] * 1000:.1f} | {mib(entry['max_rss_kib'])} |")
    return lines + [""]


def single_section(result):
    singles = result.get("single") or {}
    if not singles:
        return []
    first = next(iter(singles.values()))
    floor = result.get("floor_object") or {}
    lines = [f"## 1. One push and one fetch of a real {first['segment_bytes'] // (1 << 20)} MiB WAL segment "
             f"(`{first['segment']}`, from `pgbench -i`; stored by wal-push as {floor.get('bytes', '?')} bytes of zstd)",
             "",
             f"Median wall time of {result['runs']} runs after one warm-up, in ms. `× floor` = the tool's time divided "
             "by curl sending/receiving the stored zstd object (the fair floor: the same bytes, no tool overhead). "
             "Every fetched file is compared byte for byte with the original. Fetches write into one `pg_wal` per "
             "tool, as a recovery does (wal-fetch finds its hint of the previous segment's location from the second "
             "call on); prefetch does not apply to a single call. Each push goes into a fresh prefix; before each "
             "timed wal-push an untimed call has left the archive identity's local copy in its `pg_wal`, as the "
             "archiver's previous call does in steady archiving (the copy is read from the store once per 5 "
             "minutes: the first call of an archive pays one GET more). CPU = user+sys of the client process tree "
             "(median), RSS = peak resident set.", ""]
    for shape, single in singles.items():
        tools = single["tools"]
        lines += [f"### {shape_label(result, shape)}", "",
                  "| tool | push ms | push × floor | fetch ms | fetch × floor | push CPU ms | fetch CPU ms "
                  "| push RSS MiB | fetch RSS MiB |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        floor_push, floor_fetch = wall(result, shape, "curl-zstd", "push"), wall(result, shape, "curl-zstd", "fetch")
        notes = []
        for tool, entry in tools.items():
            push, fetch = entry.get("push") or {}, entry.get("fetch") or {}
            lines.append(f"| {name(tool)} | {ms(push.get('wall_s'))} | {ratio(push.get('wall_s'), floor_push)} | "
                         f"{ms(fetch.get('wall_s'))} | {ratio(fetch.get('wall_s'), floor_fetch)} | "
                         f"{ms(push.get('cpu_s'))} | {ms(fetch.get('cpu_s'))} | {mib(push.get('max_rss_kib'))} | "
                         f"{mib(fetch.get('max_rss_kib'))} |")
            if entry.get("error"):
                notes.append(f"- {name(tool)}: did not complete: `{one_line(entry['error'])}`")
        spread = [f"{name(t)} push {ms(e['push']['wall_min_s'])}–{ms(e['push']['wall_max_s'])}, "
                  f"fetch {ms(e['fetch']['wall_min_s'])}–{ms(e['fetch']['wall_max_s'])}"
                  for t, e in tools.items() if e.get("push") and e.get("fetch")]
        lines += ["", "Range (min–max ms): " + "; ".join(spread) + "."]
        work = result.get("fetch_work") or {}
        if work.get("decode_ms") and shape == next(iter(singles)):
            lines += ["", f"What a verifying fetch must do that the fair floor does not, each timed alone on this machine "
                          f"in this run: decode {work['segment_bytes']} bytes from zstd level 1 (the stored object is "
                          f"{work['object_bytes']} bytes) {work['decode_ms']:.1f} ms (`zstd -b1`, in memory), SHA-256 of those bytes "
                          f"{work['sha256_ms']:.1f} ms (OpenSSL), write them into a new file {work['write_ms']:.1f} ms. "
                          "wal-fetch decodes on one thread while a second one hashes and writes, so the decode is the "
                          "part that adds to its wall time."]
        lines += ([""] + notes if notes else []) + [""]
    return lines


def pushed_ahead_section(result):
    hit = result.get("pushed_ahead")
    if not hit:
        return []
    lines = ["## 2. The call for a segment push-ahead already stored (loopback)", "",
             "A copy of a stopped cluster's `pg_wal` with ready 16 MiB segments; wal-push archives the oldest (and "
             "pushes the next ones ahead); then PostgreSQL's calls for the next segments are each timed, as the "
             "archiver makes them (user postgres, data directory as working directory, `%p` = `pg_wal/<name>`), "
             "beside `wal-push --version` started the same way.", ""]
    if hit.get("error"):
        return lines + [f"Did not complete: `{one_line(hit['error'])}`", ""]
    return lines + [f"- {hit['calls']} calls: median {hit['hit_ms_median']:.1f} ms, max {hit['hit_ms_max']:.1f} ms; "
                    f"start-up alone {hit['startup_ms_median']:.1f} ms "
                    f"({hit['hit_ms_median'] / hit['startup_ms_median']:.2f}×)", ""]


def sustained_section(result):
    sections = result.get("sustained") or {}
    lines = []
    for shape, sustained in sections.items():
        tools = sustained["tools"]
        rate = f", rate-limited to {sustained['rate_tps']:g} tx/s" if sustained.get("rate_tps") else ", unthrottled"
        lines += [
            f"## 3. Sustained archiving under pgbench load at {shape_label(result, shape)} ({sustained['seconds']} s, "
            f"{sustained['clients']} clients{rate}; {sustained['segment_mib']} MiB segments)", "",
            f"Workload: {sustained['workload']}; a fresh cluster per tool, the tool as `archive_command`. Backlog = "
            "`.ready` files in `pg_wal/archive_status`, sampled every 0.5 s.", "",
            "| archive_command | tps | produced seg/s | archived seg/s | backlog max | backlog mean | samples ≥ 2 "
            "| backlog at end of load | drain after load s | failures |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        notes = []
        for tool, entry in tools.items():
            if entry.get("error"):
                notes.append(f"- {name(tool)}: did not complete: `{one_line(entry['error'])}`")
                lines.append(f"| {name(tool)} | – | – | – | – | – | – | – | – | – |")
                continue
            drain = f"{entry['drain_s']}" + ("" if entry.get("drained") else
                                             f" (not drained: {entry.get('backlog_after_drain')} left)")
            lines.append(f"| {name(tool)} | {fmt(entry.get('tps'), 0)} | {fmt(entry['produced_per_s'], 2)} | "
                         f"{fmt(entry['archived_per_s'], 2)} | {entry['backlog_max']} | {fmt(entry['backlog_mean'], 2)} | "
                         f"{entry['samples_at_2_or_more']}/{entry['samples']} | {entry['backlog_end_of_load']} | {drain} | "
                         f"{entry.get('failed_count')} |")
        lines += ([""] + notes if notes else []) + [""]
    return lines


def drain_section(result):
    sections = result.get("drain") or {}
    if not sections:
        return []
    first = next(iter(sections.values()))
    lines = [f"## 4. Backlog drain: {first['segments']} ready {first['segment_mib']} MiB segments after an outage", "",
             "A copy of a stopped cluster whose `pg_wal` holds the ready segments; each tool is called the way "
             "PostgreSQL's archiver calls it: oldest first, one call at a time, `.ready` renamed to `.done` after "
             "each success (user postgres, `%p` = `pg_wal/<name>`).", "",
             "| shape | archive_command | segments/s | total s | median call ms | slowest call ms |",
             "|---|---|---:|---:|---:|---:|"]
    notes = []
    for shape, drain in sections.items():
        for tool, entry in drain["tools"].items():
            if entry.get("error"):
                notes.append(f"- {name(tool)} at {shape_label(result, shape)}: `{one_line(entry['error'])}`")
                lines.append(f"| {shape_label(result, shape)} | {name(tool)} | – | – | – | – |")
                continue
            lines.append(f"| {shape_label(result, shape)} | {name(tool)} | {entry['per_s']:.2f} | {entry['seconds']:.1f} | "
                         f"{entry['call_ms_median']:.0f} | {entry['call_ms_max']:.0f} |")
    return lines + ([""] + notes if notes else []) + [""]


def pitr_section(result):
    lines = []
    for key in ("pitr", "pitr16"):
        for shape, pitr in (result.get(key) or {}).items():
            variants = pitr["variants"]
            floor = (variants.get("cp") or {}).get("seconds")
            lines += [f"## 5. PITR replay of {pitr['segments']} segments of {pitr['segment_mib']} MiB at "
                      f"{shape_label(result, shape)}", "",
                      "Base backup + archived WAL of the pgbench UPDATE load, recovery to a named restore point, "
                      "promote. Time from `pg_ctl start` to the end of archive recovery; `× cp floor` = the variant's "
                      "time divided by replay with `cp` from a local directory.", "",
                      "| restore_command | total s | ms per segment | × cp floor |", "|---|---:|---:|---:|"]
            notes = []
            for variant, entry in variants.items():
                if entry.get("error"):
                    lines.append(f"| {name(variant)} | – | – | – |")
                    notes.append(f"- {name(variant)}: did not complete: `{one_line(entry['error'])}`")
                    continue
                lines.append(f"| {name(variant)} | {entry['seconds']:.1f} | {entry['per_segment_ms']:.0f} | "
                             f"{ratio(entry['seconds'], floor)} |")
            lines += ([""] + notes if notes else []) + [""]
    return lines


def fmt(value, digits):
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(result):
    lines = header(result) + targets(result) + peers_beating_us(result)
    lines += startup_section(result) + single_section(result) + pushed_ahead_section(result)
    lines += sustained_section(result) + drain_section(result) + pitr_section(result)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------

COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]


def grouped_bars(ax, groups, series, values, value_format, ylabel, title):
    """groups on the x axis, one bar per series within each group; values[(series, group)]."""
    width = 0.8 / max(1, len(series))
    for index, serie in enumerate(series):
        xs = [i + (index - (len(series) - 1) / 2) * width for i in range(len(groups))]
        heights = [values.get((serie, group)) or 0 for group in groups]
        bars = ax.bar(xs, heights, width, label=serie, color=COLORS[index % len(COLORS)])
        for bar, value in zip(bars, heights):
            ax.annotate("n/a" if not value else value_format(value), (bar.get_x() + bar.get_width() / 2, value),
                        ha="center", va="bottom", fontsize=6, rotation=90 if len(series) > 2 else 0)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([name(g).replace(" (", "\n(").replace(", ", ",\n") for g in groups], fontsize=6.5)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    if series:
        ax.legend(fontsize=6.5)


def plot(result, path):
    fig, axes = plt.subplots(2, 3, figsize=(20, 10.5))
    singles = result.get("single") or {}
    shapes = list(singles)
    tools = []
    for single in singles.values():
        tools += [t for t in single["tools"] if t not in tools]
    for ax, phase in ((axes[0][0], "push"), (axes[0][1], "fetch")):
        values = {(shape_label(result, s), t): (wall(result, s, t, phase) or 0) * 1000 for s in shapes for t in tools}
        grouped_bars(ax, tools, [shape_label(result, s) for s in shapes], values, lambda v: f"{v:.0f}",
                     "wall time, ms (median)", f"one {phase} of a 16 MiB WAL segment")
    ax = axes[0][2]
    for shape, sustained in (result.get("sustained") or {}).items():
        for index, (tool, entry) in enumerate(sustained["tools"].items()):
            series = entry.get("series") or []
            ax.plot([p["t"] for p in series], [p["ready"] for p in series], label=f"{name(tool)}, {shape_label(result, shape)}",
                    color=COLORS[index % len(COLORS)])
    ax.set_yscale("symlog", linthresh=4)
    ax.axhline(2, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("seconds of pgbench load")
    ax.set_ylabel("ready segments (backlog)")
    ax.set_title("archiver backlog under pgbench (16 MiB segments)", fontsize=9)
    ax.grid(alpha=0.3)
    if result.get("sustained"):
        ax.legend(fontsize=6.5)
    drains = result.get("drain") or {}
    drain_tools = []
    for drain in drains.values():
        drain_tools += [t for t in drain["tools"] if t not in drain_tools]
    values = {(shape_label(result, s), t): (d["tools"].get(t) or {}).get("per_s") for s, d in drains.items()
              for t in drain_tools}
    first = next(iter(drains.values()), {"segments": "?", "segment_mib": 16})
    grouped_bars(axes[1][0], drain_tools, [shape_label(result, s) for s in drains], values, lambda v: f"{v:.1f}",
                 "segments archived per second", f"backlog drain: {first['segments']} ready × {first['segment_mib']} MiB, "
                                                 "one call at a time")
    for ax, key in ((axes[1][1], "pitr"), (axes[1][2], "pitr16")):
        sections = result.get(key) or {}
        variants = []
        for pitr in sections.values():
            variants += [v for v in pitr["variants"] if v not in variants]
        values = {(shape_label(result, s), v): (p["variants"].get(v) or {}).get("seconds") for s, p in sections.items()
                  for v in variants}
        first = next(iter(sections.values()), None)
        title = (f"PITR replay of {first['segments']} × {first['segment_mib']} MiB segments vs the local cp floor"
                 if first else "PITR replay: not measured")
        grouped_bars(ax, variants, [shape_label(result, s) for s in sections], values, lambda v: f"{v:.1f}",
                     "total restore time, s", title)
    machine = result["machine"]
    fig.suptitle(f"wal-archive vs peers — local {'Ceph RGW' if result.get('s3_server') == 'rgw' else 'moto'} S3 — {machine['nproc']} CPUs {machine['cpu']} — "
                 f"{result['started'][:10]}" + (" — QUICK MODE" if result.get("quick") else ""), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=85)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("file")
    args = parser.parse_args()
    with open(args.file) as f:
        result = json.load(f)
    stem = args.file[:-len(".json")]
    with open(stem + ".md", "w") as out:
        out.write(f"![plot]({os.path.basename(stem)}.png)\n\n" + markdown(result) + "\n")
    plot(result, stem + ".png")
    if not result.get("quick"):
        shutil.copyfile(stem + ".png", os.path.join(args.results, "latest.png"))
        with open(os.path.join(args.results, "latest.md"), "w") as out:
            out.write("![plot](latest.png)\n\n" + markdown(result) + "\n")
    print(stem + ".md")


if __name__ == "__main__":
    main()
