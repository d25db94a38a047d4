"""Where the time of one PITR replay goes (bench.py --pitr-profile): every restore_command call
as PostgreSQL makes it (wall, CPU, time waiting for a CPU, served from the prefetch directory or
downloaded), the prefetch workers, PostgreSQL's startup process, the S3 server, the delay relay
and everything else on the machine, over the replay's own window.

Sources: `callclock` (a small C wrapper compiled here: posix_spawnp + wait4, one line per call
with CLOCK_MONOTONIC start/end and the call's rusage CPU: exact for short processes, where the
kernel's exit records miss the last stretch since the process's last context switch), the
kernel's taskstats exit records (lib/taskstats.py: workers, shells, the startup process, with
delay accounting's CPU wait), /proc/<pid>/task/*/schedstat of live processes at the start and
end of the window, /proc/stat for the machine, and wal-fetch's own `log = info` lines for
whether a call was served.
"""
import json
import os
import re
import shutil
import subprocess
import time

from taskstats import TaskExits, enable_delay_accounting, process_cpu, restore_delay_accounting

CALLCLOCK_SOURCE = r"""
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
static long long now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
int main(int argc, char **argv) {
    if (argc < 3) return 255;
    long long start = now();
    pid_t pid;
    if (posix_spawnp(&pid, argv[2], NULL, NULL, argv + 2, environ) != 0) return 255;
    int status; struct rusage usage;
    if (wait4(pid, &status, 0, &usage) < 0) return 255;
    long long end = now();
    long cpu = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000L + usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
    char line[1024];
    int length = snprintf(line, sizeof line, "%lld %lld %ld %d %d %d %s\n", start, end, cpu, code, pid, (int)getppid(),
                          argc > 3 ? argv[argc - 2] : "");
    int descriptor = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (descriptor >= 0) { if (write(descriptor, line, length) < 0) {} close(descriptor); }
    return code;
}
"""


def build_callclock(directory):
    source = os.path.join(directory, "callclock.c")
    binary = os.path.join(directory, "callclock")
    with open(source, "w") as out:
        out.write(CALLCLOCK_SOURCE)
    subprocess.run(["cc", "-O2", "-o", binary, source], check=True, capture_output=True)
    os.chmod(binary, 0o755)
    return binary


def _machine_busy_ns():
    fields = open("/proc/stat").readline().split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    tick = 1e9 / os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq + steal) * tick


def _live_processes():
    """pid -> {comm, cmdline, sid, ppid, cpu, wait} of every live process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        cpu = process_cpu(pid)
        if cpu is None:
            continue
        try:
            stat = open(f"/proc/{pid}/stat").read()
            fields = stat[stat.rindex(")") + 2:].split()
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")[:300]
        except (OSError, ValueError):
            continue
        table[pid] = {"comm": stat[stat.index("(") + 1:stat.rindex(")")], "cmdline": cmdline, "ppid": int(fields[1]),
                      "sid": int(fields[3]), "cpu": cpu[0], "wait": cpu[1]}
    return table


class ReplayProfiler:
    """One per bench run: the taskstats listener stays open; `window()` measures one replay."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        shutil.chown(directory, "postgres", "postgres")  # restore_command runs as postgres and writes its calls here
        self.callclock = build_callclock(directory)
        self.previous_delayacct = enable_delay_accounting()
        self.exits = TaskExits()
        self.exits.start()

    def close(self):
        self.exits.stop()
        restore_delay_accounting(self.previous_delayacct)

    def wrap(self, command, name):
        """restore_command wrapped by callclock (after its environment assignments)."""
        log = os.path.join(self.directory, f"{name}.calls")
        words = command.split(" ")
        index = 0
        while index < len(words) and re.match(r"^[A-Z_][A-Z0-9_]*=", words[index]):
            index += 1
        return " ".join(words[:index] + [self.callclock, log] + words[index:]), log

    def start(self):
        return {"at": time.monotonic_ns(), "busy": _machine_busy_ns(), "live": _live_processes()}

    def finish(self, name, started, calls_log, server_log, server_sid, postmaster_pid, worker_executable):
        """`server_sid`: the session of the S3 server (scripts/local-s3-server and moto);
        `postmaster_pid`: the replaying cluster's postmaster; `worker_executable`: the measured
        wal-fetch (other wal-fetch processes on the machine are someone else's)."""
        worker_inode = os.stat(worker_executable).st_ino
        time.sleep(0.3)  # the last exit records
        ended = {"at": time.monotonic_ns(), "busy": _machine_busy_ns(), "live": _live_processes()}
        records = self.exits.records(started["at"], ended["at"])
        calls = []
        if os.path.exists(calls_log):
            for line in open(calls_log):
                start, end, cpu_us, code, pid, ppid, *rest = line.split(" ", 6)
                calls.append({"start": int(start), "end": int(end), "cpu_ns": int(cpu_us) * 1000, "exit": int(code),
                              "pid": int(pid), "ppid": int(ppid), "file": os.path.basename(rest[0].strip()) if rest else ""})
        results = {}
        if server_log and os.path.exists(server_log):
            for line in open(server_log, errors="replace"):
                match = re.search(r"tool=wal-fetch file=(\S+) .*duration_ms=(\d+) requests=(\d+) .*result=(\w+)", line)
                if match:
                    results.setdefault(match.group(1), []).append((match.group(4), int(match.group(3))))
        threads_of = {}
        for record in records:
            threads_of.setdefault(record.tgid, []).append(record)
        call_pids = {call["pid"] for call in calls}
        for call in calls:
            call["cpu_wait_ns"] = sum(t.cpu_wait_ns for t in threads_of.get(call["pid"], []))
            outcome = results.get(call["file"], [])
            call["result"], call["requests"] = outcome.pop(0) if outcome else ("cp" if not results else "?", 0)
        live = {**started["live"], **ended["live"]}

        def group_of(pid, comm, ppid, cmdline="", inode=None):
            process = live.get(pid)
            if process:
                comm, ppid, cmdline = process["comm"], process["ppid"], process["cmdline"]
                if process["sid"] == server_sid:
                    return "s3 server"
            if pid in call_pids:
                return "restore_command calls"
            if "delay_relay" in cmdline:
                return "delay relay"
            if comm == "wal-fetch" and inode == worker_inode:
                return "prefetch workers"
            if comm in ("sh", "dash", "callclock"):
                return "shells"
            if pid == postmaster_pid or ppid == postmaster_pid:
                return "startup process" if "startup" in cmdline or (not cmdline and comm == "postgres"
                                                                     and pid == startup_pid) else "postgres (other)"
            return "other"

        shells = [threads_of[pid][0] for pid in {call["ppid"] for call in calls} if pid in threads_of]
        parents = [shell.ppid for shell in shells]
        startup_pid = max(set(parents), key=parents.count) if parents else None
        groups = {}

        def add(group, cpu, wait, count=0):
            totals = groups.setdefault(group, {"cpu_ns": 0, "cpu_wait_ns": 0, "processes": 0})
            totals["cpu_ns"] += cpu
            totals["cpu_wait_ns"] += wait
            totals["processes"] += count

        # Live at both ends: the difference; started in the window and still alive: all of it.
        for pid, process in ended["live"].items():
            before = started["live"].get(pid)
            if before is None or before["comm"] != process["comm"]:
                before = {"cpu": 0, "wait": 0}
            add(group_of(pid, process["comm"], process["ppid"], process["cmdline"]),
                process["cpu"] - before["cpu"], process["wait"] - before["wait"])
        # Threads that exited in the window (their CPU since the start snapshot if they were alive then).
        workers = []
        for tgid, threads in threads_of.items():
            lead = next((t for t in threads if t.pid == tgid), threads[0])
            before = started["live"].get(tgid)
            group = group_of(tgid, lead.comm, lead.ppid, inode=lead.exe_inode)
            if tgid in ended["live"]:
                before = None  # its exited threads are not in its end snapshot
            cpu = sum(t.cpu_ns for t in threads)
            wait = sum(t.cpu_wait_ns for t in threads)
            if before is not None and tgid not in ended["live"]:
                cpu, wait = max(0, cpu - before["cpu"]), max(0, wait - before["wait"])
            if group == "restore_command calls":
                continue  # counted from the calls' own rusage below
            add(group, cpu, wait, 1 if lead.pid == tgid and tgid not in ended["live"] else 0)
            if group == "prefetch workers":
                workers.append({"tgid": tgid, "threads": len(threads), "start": min(t.started for t in threads),
                                "end": max(t.ended for t in threads), "cpu_ns": cpu, "cpu_wait_ns": wait})
        add("restore_command calls", sum(c["cpu_ns"] for c in calls), sum(c["cpu_wait_ns"] for c in calls), len(calls))
        profile = {"name": name, "window_ns": ended["at"] - started["at"],
                   "machine_busy_ns": ended["busy"] - started["busy"], "calls": calls, "workers": workers,
                   "groups": groups, "dropped_records": self.exits.dropped}
        with open(os.path.join(self.directory, f"{name}.json"), "w") as out:
            json.dump(profile, out, indent=1)
        return profile


def _ms(ns):
    return ns / 1e6


def summary(profile, replay_seconds=None):
    """A few lines for the log: where the replay's time and CPU went."""
    calls = profile["calls"]
    lines = [f"profile {profile['name']}: {len(calls)} calls"]
    if calls:
        gaps = [b["start"] - a["end"] for a, b in zip(calls, calls[1:])]
        kinds = {}
        for call in calls:
            kinds.setdefault(call["result"], []).append(call)
        for kind, group in sorted(kinds.items()):
            walls = sorted(_ms(c["end"] - c["start"]) for c in group)
            cpus = sorted(_ms(c["cpu_ns"]) for c in group)
            waits = sorted(_ms(c["cpu_wait_ns"]) for c in group)
            lines.append(f"  {kind}: {len(group)} calls, {sum(c.get('requests', 0) for c in group)} requests, wall median {walls[len(walls) // 2]:.1f} ms "
                         f"(sum {sum(walls):.0f} ms, max {walls[-1]:.1f}), CPU median {cpus[len(cpus) // 2]:.2f} ms "
                         f"(sum {sum(cpus):.0f}), waiting for a CPU sum {sum(waits):.0f} ms")
        if gaps:
            ordered = sorted(gaps)
            lines.append(f"  between calls (replay + the shell's fork): median {_ms(ordered[len(ordered) // 2]):.1f} ms, "
                         f"sum {_ms(sum(gaps)):.0f} ms; first call to last end {_ms(calls[-1]['end'] - calls[0]['start']):.0f} ms")
    workers = profile["workers"]
    if workers:
        lines.append(f"  prefetch workers: {len(workers)} started, alive {_ms(sum(w['end'] - w['start'] for w in workers)):.0f} ms")
    for group, totals in sorted(profile["groups"].items(), key=lambda item: -item[1]["cpu_ns"]):
        lines.append(f"  CPU {group}: {_ms(totals['cpu_ns']):.0f} ms, waiting for a CPU {_ms(totals['cpu_wait_ns']):.0f} ms")
    lines.append(f"  machine busy {_ms(profile['machine_busy_ns']):.0f} ms of {_ms(profile['window_ns']):.0f} ms window "
                 f"({os.cpu_count()} CPUs)")
    return "\n".join(lines)
