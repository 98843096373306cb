"""Who used the CPU while a phase ran: PostgreSQL's processes, the simulator, the rest of the machine.

A benchmark on a 2-core machine is bounded by the CPU every party needs, not only by the worker's: this probe
reads /proc (Linux) every 100 ms so a short-lived PostgreSQL backend (one per sync thread) is counted too.
Elsewhere it reports nothing.
"""
from __future__ import annotations

import os
import threading
import time

PROC = "/proc"


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _uptime() -> float:
    with open(f"{PROC}/uptime") as f:
        return float(f.read().split()[0])


def _machine_busy() -> tuple[int, int]:
    with open(f"{PROC}/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)  # not idle, not iowait


class CpuProbe:
    """`with CpuProbe(sim_pid) as probe: ...` then `probe.figures()`: CPU seconds of PostgreSQL's processes, of
    the simulator, and of the whole machine, while the block ran."""

    def __init__(self, sim_pid: int | str | None = None, interval: float = 0.1):
        self.sim_pid = str(sim_pid) if sim_pid else None
        self.interval = interval
        self.enabled = os.path.isdir(f"{PROC}/self")
        self._seen: dict[str, list] = {}  # pid -> [name, cpu at first sight (0 if it started after us), cpu last seen]
        self._others: set[str] = set()  # pids of no interest: not read again (keeps the probe's own cost small)
        self._stop = threading.Event()

    def _sample(self) -> None:
        hz = _clock_ticks()
        for pid in os.listdir(PROC):
            if not pid.isdigit() or pid in self._others:
                continue
            try:
                with open(f"{PROC}/{pid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            if name != "postgres" and pid != self.sim_pid:
                self._others.add(pid)
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            cpu = (int(fields[11]) + int(fields[12])) / hz  # utime + stime
            if pid not in self._seen:
                started_after = int(fields[19]) / hz > self._started_at
                self._seen[pid] = [name, 0.0 if started_after else cpu, cpu]
            self._seen[pid][2] = cpu

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self):
        if self.enabled:
            self._started_at = _uptime()
            self._sample()
            self._busy = _machine_busy()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
            self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self._stop.set()
            self._thread.join()
            self._sample()
            self._wall = time.perf_counter() - self._wall
            busy, total = _machine_busy()
            hz = _clock_ticks()
            self._machine = (busy - self._busy[0]) / hz
        return False

    def figures(self) -> dict | None:
        if not self.enabled:
            return None
        postgres = sum(last - first for name, first, last in self._seen.values() if name == "postgres")
        sim = sum(last - first for pid, (_name, first, last) in self._seen.items() if pid == self.sim_pid)
        return {"postgres_cpu": round(postgres, 2), "sim_cpu": round(sim, 2), "machine_cpu": round(self._machine, 2),
                "wall": round(self._wall, 2), "cores": os.cpu_count() or 1}
