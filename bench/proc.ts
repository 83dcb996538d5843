/**
 * CPU accounting of whole processes for the benchmarks that run real node processes and a
 * local coordinator (Linux /proc; every function returns undefined or [] where it is absent).
 */
import { readdirSync, readFileSync } from "node:fs";

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere or once it has exited. */
export function procCpu(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** The pids of this process's workerd children (the local coordinator Miniflare runs). */
export function workerdPids(): number[] {
  try {
    return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        return ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd");
      } catch { return false; }
    });
  } catch { return []; }
}

/** Peak resident set size of a process so far in MB (VmHWM in /proc/<pid>/status, Linux); undefined elsewhere or once it has exited. */
export function procPeakRssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
