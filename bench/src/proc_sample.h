// Samples other processes through /proc for load_client: RSS, threads, CPU
// seconds, and the time their threads spent waiting for a CPU. Header-only;
// single-threaded use.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace bench {

struct ProcSample {
  std::string name;
  int pid;
  long rss_start_kib = -1, rss_peak_kib = -1, rss_end_kib = -1;
  long threads_start = -1, threads_peak = -1;
  double cpu_start_s = -1, cpu_end_s = -1;
  double runq_start_s = -1, runq_end_s = -1;
  bool alive = true;
};

// Seconds the threads of `pid` (those alive now) spent runnable but waiting
// for a CPU (/proc/PID/task/*/schedstat, field 2): how starved a process was
// on a shared machine. -1 if unknown.
inline double RunQueueWaitS(int pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/task", pid);
  DIR* dir = opendir(path);
  if (!dir) return -1;
  double total = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    char file[300];
    snprintf(file, sizeof(file), "/proc/%d/task/%s/schedstat", pid, entry->d_name);
    FILE* f = fopen(file, "r");
    if (!f) continue;
    unsigned long long run_ns = 0, wait_ns = 0;
    if (fscanf(f, "%llu %llu", &run_ns, &wait_ns) == 2) total += static_cast<double>(wait_ns) / 1e9;
    fclose(f);
  }
  closedir(dir);
  return total;
}

inline bool ReadProc(int pid, long* rss_kib, long* threads, double* cpu_s) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/status", pid);
  FILE* f = fopen(path, "r");
  if (!f) return false;
  char line[256];
  *rss_kib = -1;
  *threads = -1;
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) *rss_kib = strtol(line + 6, nullptr, 10);
    else if (strncmp(line, "Threads:", 8) == 0) *threads = strtol(line + 8, nullptr, 10);
  }
  fclose(f);
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  f = fopen(path, "r");
  if (!f) return false;
  char stat[4096];
  size_t n = fread(stat, 1, sizeof(stat) - 1, f);
  fclose(f);
  stat[n] = 0;
  // Fields after the ")" of comm: state(3) ... utime(14) stime(15).
  char* p = strrchr(stat, ')');
  if (!p) return false;
  p += 2;
  unsigned long long utime = 0, stime = 0;
  int field = 3;
  char* save = nullptr;
  for (char* tok = strtok_r(p, " ", &save); tok; tok = strtok_r(nullptr, " ", &save), ++field) {
    if (field == 14) utime = strtoull(tok, nullptr, 10);
    if (field == 15) {
      stime = strtoull(tok, nullptr, 10);
      break;
    }
  }
  *cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return true;
}

inline void Sample(std::vector<ProcSample>& procs, bool first, bool last) {
  for (auto& p : procs) {
    long rss, threads;
    double cpu;
    if (!ReadProc(p.pid, &rss, &threads, &cpu)) {
      p.alive = false;
      continue;
    }
    if (first) {
      p.rss_start_kib = rss;
      p.threads_start = threads;
      p.cpu_start_s = cpu;
      p.runq_start_s = RunQueueWaitS(p.pid);
    }
    p.rss_peak_kib = std::max(p.rss_peak_kib, rss);
    p.threads_peak = std::max(p.threads_peak, threads);
    if (last) {
      p.rss_end_kib = rss;
      p.cpu_end_s = cpu;
      p.runq_end_s = RunQueueWaitS(p.pid);
    }
  }
}

}  // namespace bench
