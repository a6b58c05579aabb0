// `flowrun serve FILE|DIR...`: every flow becomes a streaming endpoint.
// Flow files are watched (and reloaded on SIGHUP) on a reload thread; an
// invalid edit, a file that cannot be read or a reload that fails in any way
// is reported and the previous version keeps serving.
#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "cli/commands.h"
#include "cli/parse_args.h"
#include "cli/stream_limits.h"
#include "core/descriptors.h"
#include "core/log.h"
#include "flow/flow_catalog.h"
#include "llm/upstream_loops.h"
#include "server/api_keys.h"
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

// 30 -> "30", 2.5 -> "2.5" (not std::to_string's "30.000000").
std::string SecondsText(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", seconds);
  return text;
}

// The default soft limit (often 1024) would cap flowrun near 500 streams.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Keys from --api-key-file and FLOWRUN_API_KEYS (server/api_keys.h): a
// source that is given but yields no key refuses to start.
Status LoadApiKeys(const std::string& file, std::vector<std::string>& keys) {
  ApiKeys loaded;
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status::InvalidArgument("cannot read --api-key-file " + file);
    std::stringstream text;
    text << in.rdbuf();
    if (Status status = ParseApiKeyFile(text.str(), file, &loaded); !status.ok()) return status;
  }
  if (const char* env = std::getenv("FLOWRUN_API_KEYS")) {
    if (Status status = ParseApiKeyList(env, &loaded); !status.ok()) return status;
  }
  for (const auto& warning : loaded.warnings) std::cerr << "flowrun serve: warning: " << warning << "\n";
  keys = std::move(loaded.keys);
  return Status::Ok();
}

std::optional<int> ParseServeArgs(const std::vector<std::string>& args, ServeSettings& settings) {
  CLI::App app("Serve flows as HTTP endpoints that stream Server-Sent Events.", "flowrun serve");
  ServerOptions& server = settings.server;
  app.add_option("paths", settings.paths, "flow files or directories of them")->required();
  app.add_option("--host", server.host, "address to listen on")->capture_default_str();
  app.add_option("--port", server.port, "port to listen on (0: any free port)")->capture_default_str();
  app.add_option("--threads", server.threads,
                 "most worker threads, which read, check and admit requests (the pool grows on demand); streams hold none")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-body", settings.service.max_body_bytes, "largest accepted request body in bytes")
      ->capture_default_str();
  app.add_option("--max-header-bytes", server.head_limits.max_head_bytes,
                 "largest request head (request line and header fields) in bytes; beyond it 431")
      ->capture_default_str()->check(CLI::Range(1024, 1 << 20));
  app.add_option("--max-header-fields", server.head_limits.max_header_fields,
                 "most header fields in a request; beyond it 431")
      ->capture_default_str()->check(CLI::Range(8, 10000));
  app.add_option("--max-uri-bytes", server.head_limits.max_uri_bytes, "longest request target in bytes; beyond it 414")
      ->capture_default_str()->check(CLI::Range(256, 1 << 20));
  app.add_option("--max-body-memory", server.max_body_memory,
                 "request-body bytes held at once by all connections together; beyond it 503 + Retry-After")
      ->capture_default_str();
  app.add_option("--max-json-depth", settings.service.json_limits.max_depth,
                 "deepest nesting of arrays/objects in a request body")
      ->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--max-json-elements", settings.service.json_limits.max_elements,
                 "most JSON values (of any kind) in a request body")
      ->capture_default_str()->check(CLI::Range(1, 100000000));
  int max_streams = -1;
  double heartbeat_s = 15, write_timeout_s = 5, idle_worker_s = 10, header_timeout_s = 10, body_timeout_s = 30;
  app.add_option("--header-timeout", header_timeout_s, "seconds a client gets to send a whole request head; then 408")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--body-timeout", body_timeout_s, "seconds a client gets to send a whole request body; then 408")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--max-streams", max_streams,
                 "concurrent streams; beyond it 503 + Retry-After (default: what descriptors and memory allow)");
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
                 "run loops that carry every stream's tokens between upstream and client (default 0: one per two cores)")
      ->capture_default_str()->check(CLI::Range(0, 16));
  bool no_watch = false;
  app.add_flag("--no-watch", no_watch, "do not reload flow files when they change (SIGHUP still reloads)");
  std::string key_file, log_format = "text";
  app.add_option("--api-key-file", key_file,
                 "file with accepted API keys: one per line, whole-line # comments (also FLOWRUN_API_KEYS, comma-separated)");
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
  server.header_timeout = to_ms(header_timeout_s);
  server.body_timeout = to_ms(body_timeout_s);
  server.head_limits.max_field_bytes = std::min(server.head_limits.max_field_bytes, server.head_limits.max_head_bytes);
  server.idle_worker_exit = to_ms(idle_worker_s);
  settings.service.max_streams = max_streams >= 0 ? static_cast<size_t>(max_streams) : DefaultMaxStreams();
  return std::nullopt;
}

// Each leaf step that describes itself (a model step: its provider), by
// path, nested ones included; control steps hold no Step of their own.
void LogSteps(const std::vector<FlowStep>& steps) {
  for (const auto& step : steps) {
    if (step.step != nullptr) {
      std::string description = step.step->Describe();
      if (!description.empty()) LogInfo("  step '" + step.path + "' (" + step.type + "): " + description);
    }
    for (const auto& block : step.blocks) LogSteps(block.steps);
  }
}

void LogFlows(const std::vector<std::shared_ptr<const Flow>>& flows, const std::string& base) {
  for (const auto& flow : flows) {
    LogInfo("flow '" + flow->name + "' (" + flow->file + ") at POST " + base + flow->endpoint);
    LogSteps(flow->steps);
  }
}

// Applies what changed on disk; anything invalid keeps its previous version.
// Every reload (a file change or SIGHUP) runs on one thread of its own with
// an explicit stack, whatever `ulimit -s` says; loading is bounded in depth
// (config/flow_file_limits.h), so that stack is plenty. SIGHUP only wakes
// it: a slow reload never holds up the signal loop. Nothing a reload does
// may end the server: flow loading reports problems as diagnostics, and a
// last-resort catch logs anything else and keeps the previous flows.
class Reloader {
 public:
  Reloader(FlowCatalog& catalog, FlowService& service, bool watch)
      : catalog_(catalog), service_(service), watch_(watch) {}
  ~Reloader() { Stop(); }
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  bool Start() {
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setstacksize(&attributes, kStackBytes);
    started_ = pthread_create(&thread_, &attributes, &Reloader::ThreadMain, this) == 0;
    pthread_attr_destroy(&attributes);
    return started_;
  }
  void RequestReload() {
    std::lock_guard<std::mutex> lock(mutex_);
    hup_ = true;
    wake_.notify_one();
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      wake_.notify_one();
    }
    if (started_) pthread_join(thread_, nullptr);
    started_ = false;
  }

 private:
  static constexpr size_t kStackBytes = 8 << 20;

  static void* ThreadMain(void* self) {
    static_cast<Reloader*>(self)->Run();
    return nullptr;
  }

  void Run() {
    std::string seen = watch_ ? Fingerprint() : "";
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stopping_ || hup_; });
      if (stopping_) break;
      const bool hup = std::exchange(hup_, false);
      lock.unlock();
      // Taken before the reload: a change made meanwhile shows next time.
      std::string now = watch_ ? Fingerprint() : "";
      if (hup || now != seen) {
        seen = std::move(now);
        Reload(hup ? "SIGHUP" : "file change");
        // Parsing a large file (yaml-cpp's scanner holds many small tokens)
        // leaves freed memory in the allocator; give it back.
        malloc_trim(0);
      }
      lock.lock();
    }
  }

  std::string Fingerprint() {
    try {
      return catalog_.Fingerprint();
    } catch (const std::exception& error) {
      LogError(std::string("watching the flow files failed: ") + error.what());
      return "";
    }
  }

  void Reload(const std::string& why) {
    try {
      FlowCatalog::Candidate candidate = catalog_.Reload();
      if (!candidate.changed) return;
      for (const auto& problem : candidate.problems) {
        LogError(why + ": invalid flow, the previous version keeps serving:\n" + problem);
      }
      for (const auto& warning : candidate.warnings) LogWarn(why + ":\n" + warning);
      if (Status status = service_.SetFlows(candidate.flows); !status.ok()) {
        LogError(why + ": reload refused, the previous flows keep serving: " + status.message());
        return;
      }
      catalog_.Commit();
      for (const auto& file : candidate.reloaded) LogInfo(why + ": reloaded " + file);
    } catch (const std::exception& error) {
      LogError(why + ": reload failed, the previous flows keep serving: " + error.what());
    } catch (...) {
      LogError(why + ": reload failed, the previous flows keep serving");
    }
  }

  FlowCatalog& catalog_;
  FlowService& service_;
  const bool watch_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool hup_ = false;       // guarded by mutex_
  bool stopping_ = false;  // guarded by mutex_
  pthread_t thread_{};
  bool started_ = false;
};

}  // namespace

int ServeCommand(const std::vector<std::string>& args, CommandContext& context) {
  ServeSettings settings;
  // Every stream holds a client socket and an upstream socket; the default
  // --max-streams follows the raised limit.
  RaiseFileLimit();
  if (auto exit_code = ParseServeArgs(args, settings)) return *exit_code;

  FlowCatalog catalog(settings.paths, context.registry, context.environment);
  FlowCatalog::Candidate initial;
  try {
    initial = catalog.Reload();
  } catch (const std::exception& error) {  // last resort: loading reports problems as diagnostics
    std::cerr << "flowrun serve: error: cannot load the flows: " << error.what() << "\n";
    return 1;
  }
  for (const auto& problem : initial.problems) std::cerr << problem << (problem.ends_with("\n") ? "" : "\n");
  for (const auto& warning : initial.warnings) std::cerr << warning;
  if (!initial.problems.empty() || initial.flows.empty()) return 1;
  auto service = std::make_shared<FlowService>(settings.service);
  if (Status status = service->SetFlows(initial.flows); !status.ok()) {
    std::cerr << "flowrun serve: error: " << status.message() << "\n";
    return 1;
  }
  catalog.Commit();

  // Signals go to sigwait below, not to whichever thread they hit: block
  // them before any thread starts (threads inherit the mask), else a
  // SIGTERM can land on an upstream loop and kill the process at once.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  PrepareDescriptorChecks();
  // The upstream loops start now: a loop that cannot start (out of
  // descriptors, say) must not leave streams without one later.
  if (Status status = StartUpstreamLoops(); !status.ok()) {
    std::cerr << "flowrun serve: error: " << status.message() << "\n";
    return 1;
  }


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

  Reloader reloader(catalog, *service, settings.watch);
  if (!reloader.Start()) LogError("cannot start the reload thread; flow files will not be reloaded");
  int received = 0;
  while (sigwait(&signals, &received) == 0 && received == SIGHUP) reloader.RequestReload();
  reloader.Stop();
  LogInfo(std::string("received ") + (received == SIGINT ? "SIGINT" : "SIGTERM") +
          ", no longer accepting; draining " + std::to_string(service->ActiveStreams()) + " stream(s) for up to " +
          SecondsText(settings.drain_s) + " s");
  server.Shutdown(std::chrono::milliseconds(static_cast<long long>(settings.drain_s * 1000)));
  LogInfo("stopped");
  return 0;
}

}  // namespace flowrun
