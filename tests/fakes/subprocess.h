// Runs the flowrun binary from tests: either to completion with captured
// output, or in the background (for `serve`) with its stdout readable line
// by line and a signal to stop it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace flowrun::testing {

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  long max_rss_kib = 0;  // peak resident memory (RunProcessWithLimits only)
  std::string killed;    // why RunProcessWithLimits killed it ("" if it ended by itself)
};

// Runs argv[0] with `args`; `env` entries are set (value "") or unset
// (std::nullopt) on top of the test's environment; `stdin_text` is piped in.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::optional<std::string>>& env = {},
                         const std::string& stdin_text = "");

struct ProcessLimits {
  std::chrono::milliseconds timeout{20000};
  long max_rss_kib = 0;  // 0: no memory cap
};

// Like RunProcess (no stdin), but the process is killed with SIGKILL (and
// `killed` says why) when it runs longer than `limits.timeout` or its
// resident memory passes `limits.max_rss_kib`, so a regression cannot hang
// the suite or exhaust the machine. Reports the peak resident memory.
ProcessResult RunProcessWithLimits(const std::vector<std::string>& argv, const ProcessLimits& limits,
                                   const std::map<std::string, std::optional<std::string>>& env = {});

class BackgroundProcess {
 public:
  // `stderr_path`: where its stderr goes ("" = the test's own stderr).
  BackgroundProcess(const std::vector<std::string>& argv,
                    const std::map<std::string, std::optional<std::string>>& env = {},
                    const std::string& stderr_path = "");
  ~BackgroundProcess();  // SIGKILL if still running

  // The next stdout line, or nullopt on EOF or timeout.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  void Signal(int signal_number);
  pid_t pid() const { return pid_; }
  // Exit code after the process ends (waits at most `timeout`; -1 if it did not end).
  int Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  int exit_code_ = -1;
  bool exited_ = false;
};

// Reads "listening on http://127.0.0.1:PORT" from `serve`; 0 when not seen.
int WaitForListeningPort(BackgroundProcess& process);

// `flowrun serve <args> --port 0` in the background; stopped with SIGTERM
// (checking a clean exit) when destroyed, unless Stop() was called.
class ServeProcess {
 public:
  explicit ServeProcess(std::vector<std::string> args,
                        std::map<std::string, std::optional<std::string>> env = {{"OPENAI_API_KEY", std::nullopt},
                                                                                 {"OPENAI_BASE_URL", std::nullopt}},
                        const std::string& stderr_path = "");
  ~ServeProcess();
  int port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  // Sends `signal_number` and returns the exit code (-1 if it did not exit in `timeout`).
  int Stop(int signal_number, std::chrono::milliseconds timeout);
  void Signal(int signal_number) { process_.Signal(signal_number); }

 private:
  BackgroundProcess process_;
  int port_ = 0;
  bool stopped_ = false;
};

// A flow `name` at POST /name: the message (at most `max_length`
// characters when > 0) answered by the offline mock, `delay_ms` per token.
std::string WriteMockFlow(const std::string& name, int delay_ms, int max_length = 0);

// Writes `text` to a fresh file under the temp directory; returns its path.
std::string WriteTempFile(const std::string& name, const std::string& text);

// Threads, open file descriptors and resident KiB of a process (from /proc).
struct ProcessUsage {
  int threads = 0;
  int fds = 0;
  long rss_kib = 0;
};
ProcessUsage ReadProcessUsage(pid_t pid);

}  // namespace flowrun::testing
