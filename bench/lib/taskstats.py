"""Every process that exits on this machine, with its CPU time and how long it waited for a CPU,
from the kernel's taskstats (generic netlink, TASKSTATS_CMD_ATTR_REGISTER_CPUMASK): no wrapper
around the measured commands, nothing added to their start-up.

    with TaskExits() as exits:
        ...                              # run the workload
    records = exits.records()            # one TaskExit per exited thread

cpu_wait_ns (time runnable but waiting for a CPU) needs delay accounting
(sysctl kernel.task_delayacct=1; `enable_delay_accounting()` turns it on and returns the value to
restore); without it the field is 0.
"""
import ctypes
import os
import socket
import struct
import threading
import time

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
TASKSTATS_CMD_GET = 1
TASKSTATS_CMD_NEW = 2
TASKSTATS_CMD_ATTR_REGISTER_CPUMASK = 3
TASKSTATS_TYPE_PID = 1
TASKSTATS_TYPE_TGID = 2
TASKSTATS_TYPE_STATS = 3
TASKSTATS_TYPE_AGGR_PID = 4
NLM_F_REQUEST = 1
NLMSG_ERROR = 2


class _Taskstats(ctypes.Structure):
    """struct taskstats (linux/taskstats.h) up to ac_tgetime (version 13 and later)."""
    _fields_ = [
        ("version", ctypes.c_uint16), ("ac_exitcode", ctypes.c_uint32), ("ac_flag", ctypes.c_uint8),
        ("ac_nice", ctypes.c_uint8), ("cpu_count", ctypes.c_uint64), ("cpu_delay_total", ctypes.c_uint64),
        ("blkio_count", ctypes.c_uint64), ("blkio_delay_total", ctypes.c_uint64),
        ("swapin_count", ctypes.c_uint64), ("swapin_delay_total", ctypes.c_uint64),
        ("cpu_run_real_total", ctypes.c_uint64), ("cpu_run_virtual_total", ctypes.c_uint64),
        ("ac_comm", ctypes.c_char * 32), ("ac_sched", ctypes.c_uint8), ("ac_pad", ctypes.c_uint8 * 3),
        ("_align_uid", ctypes.c_uint32),  # ac_uid is aligned(8)
        ("ac_uid", ctypes.c_uint32), ("ac_gid", ctypes.c_uint32), ("ac_pid", ctypes.c_uint32),
        ("ac_ppid", ctypes.c_uint32), ("ac_btime", ctypes.c_uint32), ("ac_etime", ctypes.c_uint64),
        ("ac_utime", ctypes.c_uint64), ("ac_stime", ctypes.c_uint64), ("ac_minflt", ctypes.c_uint64),
        ("ac_majflt", ctypes.c_uint64), ("coremem", ctypes.c_uint64), ("virtmem", ctypes.c_uint64),
        ("hiwater_rss", ctypes.c_uint64), ("hiwater_vm", ctypes.c_uint64), ("read_char", ctypes.c_uint64),
        ("write_char", ctypes.c_uint64), ("read_syscalls", ctypes.c_uint64), ("write_syscalls", ctypes.c_uint64),
        ("read_bytes", ctypes.c_uint64), ("write_bytes", ctypes.c_uint64),
        ("cancelled_write_bytes", ctypes.c_uint64), ("nvcsw", ctypes.c_uint64), ("nivcsw", ctypes.c_uint64),
        ("ac_utimescaled", ctypes.c_uint64), ("ac_stimescaled", ctypes.c_uint64),
        ("cpu_scaled_run_real_total", ctypes.c_uint64), ("freepages_count", ctypes.c_uint64),
        ("freepages_delay_total", ctypes.c_uint64), ("thrashing_count", ctypes.c_uint64),
        ("thrashing_delay_total", ctypes.c_uint64), ("ac_btime64", ctypes.c_uint64),
        ("compact_count", ctypes.c_uint64), ("compact_delay_total", ctypes.c_uint64),
        ("ac_tgid", ctypes.c_uint32), ("ac_tgetime", ctypes.c_uint64), ("ac_exe_dev", ctypes.c_uint64),
        ("ac_exe_inode", ctypes.c_uint64),
    ]


class TaskExit:
    """One exited thread. Times in ns; `ended` is CLOCK_MONOTONIC when its record arrived
    (within microseconds of the exit), `started` = ended - elapsed."""
    __slots__ = ("pid", "tgid", "ppid", "comm", "exit_code", "cpu_ns", "cpu_wait_ns", "elapsed_ns",
                 "ended", "started", "voluntary_switches", "involuntary_switches", "exe_inode")

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}


def _attributes(data):
    offset = 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("HH", data, offset)
        if length < 4:
            break
        yield kind & 0x3FFF, data[offset + 4:offset + length]
        offset += (length + 3) & ~3


def _attribute(kind, payload):
    length = 4 + len(payload)
    return struct.pack("HH", length, kind) + payload + b"\0" * (((length + 3) & ~3) - length)


def _message(family, command, payload, sequence):
    body = struct.pack("BBH", command, 1, 0) + payload
    return struct.pack("IHHII", 16 + len(body), family, NLM_F_REQUEST, sequence, os.getpid()) + body


def enable_delay_accounting():
    """Turns delay accounting on; returns the previous value (write it back with `restore_delay_accounting`)."""
    path = "/proc/sys/kernel/task_delayacct"
    try:
        previous = open(path).read().strip()
        if previous != "1":
            open(path, "w").write("1")
        return previous
    except OSError:
        return None


def restore_delay_accounting(previous):
    if previous is not None and previous != "1":
        try:
            open("/proc/sys/kernel/task_delayacct", "w").write(previous)
        except OSError:
            pass


class TaskExits:
    """Listens for the exits of every thread on every CPU while open."""

    def __init__(self):
        self._records = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socket = None
        self._thread = None
        self.dropped = 0

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.bind((0, 0))
        sock.sendmsg([_message(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, _attribute(CTRL_ATTR_FAMILY_NAME, b"TASKSTATS\0"), 1)])
        family = None
        for kind, value in self._replies(sock):
            if kind == CTRL_ATTR_FAMILY_ID:
                family = struct.unpack_from("H", value)[0]
        if family is None:
            raise OSError("the kernel has no TASKSTATS generic netlink family")
        cpus = f"0-{os.cpu_count() - 1}".encode() + b"\0"
        sock.sendmsg([_message(family, TASKSTATS_CMD_GET, _attribute(TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, cpus), 2)])
        sock.settimeout(0.2)
        self._socket = sock
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    @staticmethod
    def _replies(sock):
        data = sock.recv(65536)
        length, kind = struct.unpack_from("IH", data, 0)
        if kind == NLMSG_ERROR:
            error = struct.unpack_from("i", data, 16)[0]
            if error:
                raise OSError(-error, os.strerror(-error))
            return []
        return list(_attributes(data[20:length]))

    def _listen(self):
        while not self._stop.is_set():
            try:
                data = self._socket.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError as error:
                if error.errno == 105:  # ENOBUFS: the kernel dropped records
                    self.dropped += 1
                    continue
                return
            now = time.monotonic_ns()
            offset = 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from("IH", data, offset)
                if length < 16:
                    break
                if kind not in (NLMSG_ERROR, 3):  # not an error, not NLMSG_DONE
                    self._parse(data[offset + 20:offset + length], now)
                offset += (length + 3) & ~3

    def _parse(self, payload, now):
        for kind, value in _attributes(payload):
            if kind != TASKSTATS_TYPE_AGGR_PID:
                continue  # thread-group aggregates carry only delays: threads are summed instead
            for inner, data in _attributes(value):
                if inner != TASKSTATS_TYPE_STATS:
                    continue
                stats = _Taskstats.from_buffer_copy(data.ljust(ctypes.sizeof(_Taskstats), b"\0"))
                record = TaskExit()
                record.pid, record.tgid, record.ppid = stats.ac_pid, stats.ac_tgid or stats.ac_pid, stats.ac_ppid
                record.comm = stats.ac_comm.decode(errors="replace")
                record.exit_code = stats.ac_exitcode
                record.cpu_ns = stats.cpu_run_virtual_total  # sum_exec_runtime: exact ns (the "real" one is tick-sampled)
                record.cpu_wait_ns = stats.cpu_delay_total
                record.elapsed_ns = stats.ac_etime * 1000
                record.ended = now
                record.started = now - record.elapsed_ns
                record.voluntary_switches, record.involuntary_switches = stats.nvcsw, stats.nivcsw
                record.exe_inode = stats.ac_exe_inode
                with self._lock:
                    self._records.append(record)

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join()
        if self._socket:
            self._socket.close()

    def records(self, since=None, until=None):
        """Threads that exited in [since, until] (CLOCK_MONOTONIC ns)."""
        with self._lock:
            return [r for r in self._records
                    if (since is None or r.ended >= since) and (until is None or r.ended <= until)]


def process_cpu(pid):
    """(on-CPU ns, waiting-for-CPU ns, time slices) of a live process's threads together, from
    /proc/<pid>/task/*/schedstat; None when it is gone."""
    totals = [0, 0, 0]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                fields = open(f"/proc/{pid}/task/{task}/schedstat").read().split()
            except OSError:
                continue
            for index in range(3):
                totals[index] += int(fields[index])
    except OSError:
        return None
    return tuple(totals)


if __name__ == "__main__":
    import json
    import sys
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5
    previous = enable_delay_accounting()
    try:
        with TaskExits() as exits:
            time.sleep(seconds)
        for record in exits.records():
            print(json.dumps(record.as_dict()))
    finally:
        restore_delay_accounting(previous)
