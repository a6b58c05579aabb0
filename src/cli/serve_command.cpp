// `flowrun serve FILE|DIR...`: every flow becomes a streaming endpoint.
// Flow files are watched (and reloaded on SIGHUP); an invalid edit is
// reported and the previous version keeps serving.
#include <pthread.h>
#include <sys/resource.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "cli/parse_args.h"
#include "core/descriptors.h"
#include "core/log.h"
#include "flow/flow_catalog.h"
#include "llm/upstream_loops.h"
#include "server/http_server.h"

namespace flowrun {
namespace {

struct ServeSettings {
  std::vector<std::string> paths;
  ServerOptions server;
  ServiceOptions service;
  double drain_s = 30;
  bool watch = true;
};

// The default soft limit (often 1024) would cap flowrun near 500 streams.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Keys from --api-key-file (one per line, '#' comments) and FLOWRUN_API_KEYS.
Status LoadApiKeys(const std::string& file, std::vector<std::string>& keys) {
  auto add = [&](std::string key) {
    key.erase(0, key.find_first_not_of(" \t\r"));
    key.erase(key.find_last_not_of(" \t\r") + 1);
    if (!key.empty() && key[0] != '#') keys.push_back(key);
  };
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return Status::Error("cannot read --api-key-file " + file);
    for (std::string line; std::getline(in, line);) add(line);
    if (keys.empty()) return Status::Error("--api-key-file " + file + " holds no key");
  }
  if (const char* env = std::getenv("FLOWRUN_API_KEYS")) {
    std::string list = env;
    for (size_t start = 0; start <= list.size();) {
      size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      add(list.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return Status::Ok();
}

std::optional<int> ParseServeArgs(const std::vector<std::string>& args, ServeSettings& settings) {
  CLI::App app("Serve flows as HTTP endpoints that stream Server-Sent Events.", "flowrun serve");
  ServerOptions& server = settings.server;
  app.add_option("paths", settings.paths, "flow files or directories of them")->required();
  app.add_option("--host", server.host, "address to listen on")->capture_default_str();
  app.add_option("--port", server.port, "port to listen on (0: any free port)")->capture_default_str();
  app.add_option("--threads", server.threads, "most worker threads (the pool grows on demand); each open stream holds one")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-body", settings.service.max_body_bytes, "largest accepted request body in bytes")
      ->capture_default_str();
  int max_streams = -1;
  double heartbeat_s = 15, write_timeout_s = 5, idle_worker_s = 10;
  app.add_option("--max-streams", max_streams,
                 "concurrent streams; beyond it 503 + Retry-After (default: threads minus a reserve)");
  app.add_option("--heartbeat", heartbeat_s, "seconds of quiet before a ': ping' comment")->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--drain-timeout", settings.drain_s, "seconds running streams get to finish on SIGINT/SIGTERM")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--write-timeout", write_timeout_s, "seconds a client may stop reading before it is dropped")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--idle-worker-exit", idle_worker_s, "seconds an idle worker thread waits before it exits")
      ->capture_default_str()->check(CLI::PositiveNumber);
  unsigned io_threads = 0;
  app.add_option("--io-threads", io_threads,
                 "threads that carry every stream's tokens between upstream and client (default 0: one per two cores)")
      ->capture_default_str()->check(CLI::Range(0, 16));
  bool no_watch = false;
  app.add_flag("--no-watch", no_watch, "do not reload flow files when they change (SIGHUP still reloads)");
  std::string key_file, log_format = "text";
  app.add_option("--api-key-file", key_file,
                 "file with accepted API keys, one per line (also FLOWRUN_API_KEYS, comma-separated)");
  app.add_option("--cors-origin", settings.service.cors_origins, "an origin browsers may call from (repeatable)");
  app.add_option("--log-format", log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--log-content", settings.service.log_content, "also log inputs and replies");
  if (auto exit_code = ParseArgs(app, args)) return exit_code;
  SetLogFormat(log_format == "json" ? LogFormat::kJson : LogFormat::kText);
  if (Status status = LoadApiKeys(key_file, settings.service.api_keys); !status.ok()) {
    std::cerr << "flowrun serve: error: " << status.message() << "\n";
    return 2;
  }

  SetUpstreamLoopCount(io_threads);
  auto to_ms = [](double seconds) { return std::chrono::milliseconds(static_cast<long long>(seconds * 1000)); };
  settings.watch = !no_watch;
  settings.service.heartbeat = to_ms(heartbeat_s);
  server.write_timeout = to_ms(write_timeout_s);
  server.idle_worker_exit = to_ms(idle_worker_s);
  // Keep workers for /healthz, 503 answers and new connections when every
  // stream slot is taken.
  const int reserve = std::max(2, server.threads / 8);
  settings.service.max_streams =
      static_cast<size_t>(max_streams >= 0 ? max_streams : std::max(1, server.threads - reserve));
  if (max_streams >= server.threads) {
    std::cerr << "flowrun serve: warning: --max-streams " << max_streams << " leaves no worker for other requests"
              << " (--threads " << server.threads << ")\n";
  }
  return std::nullopt;
}

void LogFlows(const std::vector<std::shared_ptr<const Flow>>& flows, const std::string& base) {
  for (const auto& flow : flows) {
    LogInfo("flow '" + flow->name + "' (" + flow->file + ") at POST " + base + flow->endpoint);
    for (const auto& step : flow->steps) {
      std::string description = step.step->Describe();
      if (!description.empty()) LogInfo("  step '" + step.id + "' (" + step.type + "): " + description);
    }
  }
}

// Applies what changed on disk; anything invalid keeps its previous version.
class Reloader {
 public:
  Reloader(FlowCatalog& catalog, FlowService& service) : catalog_(catalog), service_(service) {}

  void Reload(const std::string& why) {
    std::lock_guard<std::mutex> lock(mutex_);
    FlowCatalog::Candidate candidate = catalog_.Reload();
    if (!candidate.changed) return;
    for (const auto& problem : candidate.problems) {
      LogError(why + ": invalid flow, the previous version keeps serving:\n" + problem);
    }
    if (Status status = service_.SetFlows(candidate.flows); !status.ok()) {
      LogError(why + ": reload refused, the previous flows keep serving: " + status.message());
      return;
    }
    catalog_.Commit();
    for (const auto& file : candidate.reloaded) LogInfo(why + ": reloaded " + file);
  }

 private:
  std::mutex mutex_;
  FlowCatalog& catalog_;
  FlowService& service_;
};

}  // namespace

int ServeCommand(const std::vector<std::string>& args, CommandContext& context) {
  ServeSettings settings;
  if (auto exit_code = ParseServeArgs(args, settings)) return *exit_code;

  FlowCatalog catalog(settings.paths, context.registry, context.environment);
  FlowCatalog::Candidate initial = catalog.Reload();
  for (const auto& problem : initial.problems) std::cerr << problem << (problem.ends_with("\n") ? "" : "\n");
  if (!initial.problems.empty() || initial.flows.empty()) return 1;
  auto service = std::make_shared<FlowService>(settings.service);
  if (Status status = service->SetFlows(initial.flows); !status.ok()) {
    std::cerr << "flowrun serve: error: " << status.message() << "\n";
    return 1;
  }
  catalog.Commit();

  // Every stream holds a client socket and an upstream socket.
  RaiseFileLimit();
  PrepareDescriptorChecks();
  // The upstream loops start now: a loop that cannot start (out of
  // descriptors, say) must not leave streams without one later.
  if (Status status = StartUpstreamLoops(); !status.ok()) {
    std::cerr << "flowrun serve: error: " << status.message() << "\n";
    return 1;
  }

  // Signals go to sigwait below, not to whichever thread they hit.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  HttpServer server(service, settings.server);
  if (Status status = server.Start(); !status.ok()) {
    std::cerr << "flowrun serve: error: " << status.message() << "\n";
    return 1;
  }
  const std::string base = "http://" + settings.server.host + ":" + std::to_string(server.port());
  LogFlows(initial.flows, base);
  if (!settings.service.api_keys.empty()) {
    LogInfo("API keys required (" + std::to_string(settings.service.api_keys.size()) + " accepted); / and /healthz stay open");
  }
  LogInfo("playground at " + base + "/ ; up to " + std::to_string(settings.server.threads) + " worker threads and " +
          std::to_string(settings.service.max_streams) + " concurrent streams");
  // Tests read the bound port from this line when they pass --port 0.
  std::cout << "listening on " << base << std::endl;

  Reloader reloader(catalog, *service);
  std::atomic<bool> stopping{false};
  std::thread watcher;
  if (settings.watch) {
    watcher = std::thread([&] {
      std::string seen = catalog.Fingerprint();
      while (!stopping.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        std::string now = catalog.Fingerprint();
        if (now == seen) continue;
        seen = now;
        reloader.Reload("file change");
      }
    });
  }

  int received = 0;
  while (sigwait(&signals, &received) == 0 && received == SIGHUP) reloader.Reload("SIGHUP");
  stopping.store(true);
  if (watcher.joinable()) watcher.join();
  LogInfo(std::string("received ") + (received == SIGINT ? "SIGINT" : "SIGTERM") +
          ", no longer accepting; draining " + std::to_string(service->ActiveStreams()) + " stream(s) for up to " +
          std::to_string(settings.drain_s) + " s");
  server.Shutdown(std::chrono::milliseconds(static_cast<long long>(settings.drain_s * 1000)));
  LogInfo("stopped");
  return 0;
}

}  // namespace flowrun
