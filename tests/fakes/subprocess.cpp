// fork/exec helpers for CLI tests.
#include "fakes/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace flowrun::testing {
namespace {

pid_t Spawn(const std::vector<std::string>& argv, const std::map<std::string, std::optional<std::string>>& env,
            int stdin_fd, int stdout_fd, int stderr_fd) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  for (const auto& [name, value] : env) {
    if (value) {
      setenv(name.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name.c_str());
    }
  }
  dup2(stdin_fd, 0);
  dup2(stdout_fd, 1);
  dup2(stderr_fd, 2);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

std::string ReadAll(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t count;
  while ((count = read(fd, buffer, sizeof(buffer))) > 0) text.append(buffer, static_cast<size_t>(count));
  return text;
}

int ExitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

// Reads a finished child's captured stdout and stderr, then removes the files.
static void CollectOutput(int out_fd, const char* out_path, int err_fd, const char* err_path, ProcessResult& result) {
  lseek(out_fd, 0, SEEK_SET);
  lseek(err_fd, 0, SEEK_SET);
  result.out = ReadAll(out_fd);
  result.err = ReadAll(err_fd);
  close(out_fd);
  close(err_fd);
  unlink(out_path);
  unlink(err_path);
}

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::optional<std::string>>& env,
                         const std::string& stdin_text) {
  char out_path[] = "/tmp/flowrun-test-out-XXXXXX";
  char err_path[] = "/tmp/flowrun-test-err-XXXXXX";
  int out_fd = mkostemp(out_path, O_CLOEXEC);
  int err_fd = mkostemp(err_path, O_CLOEXEC);
  int in_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) return {};
  pid_t pid = Spawn(argv, env, in_pipe[0], out_fd, err_fd);
  close(in_pipe[0]);
  (void)!write(in_pipe[1], stdin_text.data(), stdin_text.size());
  close(in_pipe[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  ProcessResult result;
  result.exit_code = ExitCode(status);
  CollectOutput(out_fd, out_path, err_fd, err_path, result);
  return result;
}

ProcessResult RunProcessWithLimits(const std::vector<std::string>& argv, const ProcessLimits& limits,
                                   const std::map<std::string, std::optional<std::string>>& env) {
  char out_path[] = "/tmp/flowrun-test-out-XXXXXX";
  char err_path[] = "/tmp/flowrun-test-err-XXXXXX";
  int out_fd = mkostemp(out_path, O_CLOEXEC);
  int err_fd = mkostemp(err_path, O_CLOEXEC);
  int null_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = Spawn(argv, env, null_in, out_fd, err_fd);
  close(null_in);
  ProcessResult result;
  const auto deadline = std::chrono::steady_clock::now() + limits.timeout;
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, WNOHANG, &usage) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      result.killed = "ran longer than " + std::to_string(limits.timeout.count()) + " ms";
    } else if (limits.max_rss_kib > 0 && ReadProcessUsage(pid).rss_kib > limits.max_rss_kib) {
      result.killed = "used more than " + std::to_string(limits.max_rss_kib) + " KiB";
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    kill(pid, SIGKILL);
    wait4(pid, &status, 0, &usage);
    break;
  }
  result.exit_code = ExitCode(status);
  result.max_rss_kib = usage.ru_maxrss;
  CollectOutput(out_fd, out_path, err_fd, err_path, result);
  return result;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const std::map<std::string, std::optional<std::string>>& env,
                                     const std::string& stderr_path) {
  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return;
  int null_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int err_fd = stderr_path.empty() ? 2 : open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_ = Spawn(argv, env, null_in, out_pipe[1], err_fd);
  close(null_in);
  if (err_fd != 2) close(err_fd);
  close(out_pipe[1]);
  out_fd_ = out_pipe[0];
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
}

std::optional<std::string> BackgroundProcess::ReadLine(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd poll_fd{out_fd_, POLLIN, 0};
    if (poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    char chunk[1024];
    ssize_t count = read(out_fd_, chunk, sizeof(chunk));
    if (count <= 0) return std::nullopt;
    buffer_.append(chunk, static_cast<size_t>(count));
  }
}

void BackgroundProcess::Signal(int signal_number) {
  if (pid_ > 0 && !exited_) kill(pid_, signal_number);
}

int BackgroundProcess::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!exited_ && std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = ExitCode(status);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

namespace {
std::vector<std::string> ServeArgv(std::vector<std::string> args) {
  std::vector<std::string> argv = {FLOWRUN_BINARY, "serve"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--port");
  argv.push_back("0");
  return argv;
}
}  // namespace

ServeProcess::ServeProcess(std::vector<std::string> args, std::map<std::string, std::optional<std::string>> env,
                           const std::string& stderr_path)
    : process_(ServeArgv(std::move(args)), env, stderr_path), port_(WaitForListeningPort(process_)) {}

ServeProcess::~ServeProcess() {
  if (stopped_) return;
  const int exit_code = Stop(SIGTERM, std::chrono::seconds(10));
  if (exit_code != 0) ADD_FAILURE() << "flowrun serve exited with " << exit_code << " after SIGTERM";
}

int ServeProcess::Stop(int signal_number, std::chrono::milliseconds timeout) {
  stopped_ = true;
  process_.Signal(signal_number);
  return process_.Wait(timeout);
}

std::string WriteMockFlow(const std::string& name, int delay_ms, int max_length) {
  const std::string limit = max_length > 0 ? ", max_length: " + std::to_string(max_length) : "";
  return WriteTempFile(name + ".yaml", "version: 1\nname: " + name + "\nendpoint: /" + name +
                                           "\ninput:\n  message: {type: string, required: true" + limit +
                                           "}\nsteps:\n  - type: append-message\n    content: \"{{ input.message }}\"\n"
                                           "  - id: reply\n    type: llm-stream\n    provider: mock\n    mock_delay_ms: " +
                                           std::to_string(delay_ms) + "\n");
}

std::string WriteTempFile(const std::string& name, const std::string& text) {
  static int counter = 0;
  auto dir = std::filesystem::temp_directory_path() /
             ("flowrun-test-" + std::to_string(getpid()) + "-" + std::to_string(++counter));
  std::filesystem::create_directories(dir);
  std::string path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

ProcessUsage ReadProcessUsage(pid_t pid) {
  ProcessUsage usage;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) usage.threads = std::stoi(line.substr(8));
    if (line.rfind("VmRSS:", 0) == 0) usage.rss_kib = std::stol(line.substr(6));
  }
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++usage.fds;
  }
  return usage;
}

// A generous deadline: a sanitizer build on a loaded 2-core machine starts slowly.
int WaitForListeningPort(BackgroundProcess& process) {
  const std::string prefix = "listening on http://127.0.0.1:";
  while (auto line = process.ReadLine(std::chrono::seconds(30))) {
    if (line->rfind(prefix, 0) == 0) return std::stoi(line->substr(prefix.size()));
  }
  return 0;
}

}  // namespace flowrun::testing
