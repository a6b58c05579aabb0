// `flowrun serve FILE|DIR...`: every flow becomes a streaming endpoint.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <iostream>

#include "cli/commands.h"
#include "cli/parse_args.h"
#include "core/log.h"
#include "flow/flow_loader.h"
#include "server/http_server.h"

namespace flowrun {

int ServeCommand(const std::vector<std::string>& args, CommandContext& context) {
  CLI::App app("Serve flows as HTTP endpoints that stream Server-Sent Events.", "flowrun serve");
  std::vector<std::string> paths;
  ServerOptions server_options;
  ServiceOptions service_options;
  app.add_option("paths", paths, "flow files or directories of them")->required();
  app.add_option("--host", server_options.host, "address to listen on")->capture_default_str();
  app.add_option("--port", server_options.port, "port to listen on (0: any free port)")->capture_default_str();
  app.add_option("--threads", server_options.threads, "most worker threads (the pool grows on demand); each open stream holds one")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-body", service_options.max_body_bytes, "largest accepted request body in bytes")
      ->capture_default_str();
  int max_streams = -1;
  double heartbeat_s = 15, drain_s = 30, write_timeout_s = 5, idle_worker_s = 10;
  app.add_option("--max-streams", max_streams,
                 "concurrent streams; beyond it 503 + Retry-After (default: threads minus a reserve)");
  app.add_option("--heartbeat", heartbeat_s, "seconds of quiet before a ': ping' comment")->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--drain-timeout", drain_s, "seconds running streams get to finish on SIGINT/SIGTERM")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--write-timeout", write_timeout_s, "seconds a client may stop reading before it is dropped")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--idle-worker-exit", idle_worker_s, "seconds an idle worker thread waits before it exits")
      ->capture_default_str()->check(CLI::PositiveNumber);
  if (auto exit_code = ParseArgs(app, args)) return *exit_code;
  auto to_ms = [](double seconds) { return std::chrono::milliseconds(static_cast<long long>(seconds * 1000)); };
  service_options.heartbeat = to_ms(heartbeat_s);
  server_options.write_timeout = to_ms(write_timeout_s);
  server_options.idle_worker_exit = to_ms(idle_worker_s);
  // Keep workers for /healthz, 503 answers and new connections when every
  // stream slot is taken.
  const int reserve = std::max(2, server_options.threads / 8);
  service_options.max_streams = static_cast<size_t>(
      max_streams >= 0 ? max_streams : std::max(1, server_options.threads - reserve));
  if (max_streams >= server_options.threads) {
    std::cerr << "flowrun serve: warning: --max-streams " << max_streams << " leaves no worker for other requests"
              << " (--threads " << server_options.threads << ")\n";
  }

  std::vector<std::string> errors;
  const auto files = ExpandFlowPaths(paths, &errors);
  for (const auto& error : errors) std::cerr << error << "\n";
  std::vector<std::shared_ptr<const Flow>> flows;
  for (const auto& file : files) {
    LoadResult result = LoadFlowFromFile(file, context.registry, context.environment);
    if (!result.flow) {
      std::cerr << result.diagnostics.ToString();
      errors.push_back(file);
      continue;
    }
    flows.push_back(result.flow);
  }
  if (!errors.empty() || flows.empty()) return 1;

  auto service = std::make_shared<FlowService>(service_options);
  if (Status status = service->SetFlows(flows); !status.ok()) {
    std::cerr << "flowrun serve: error: " << status.message() << "\n";
    return 1;
  }

  // Signals go to sigwait below, not to whichever thread they hit.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  HttpServer server(service, server_options);
  if (Status status = server.Start(); !status.ok()) {
    std::cerr << "flowrun serve: error: " << status.message() << "\n";
    return 1;
  }
  const std::string base = "http://" + server_options.host + ":" + std::to_string(server.port());
  for (const auto& flow : flows) {
    LogInfo("flow '" + flow->name + "' (" + flow->file + ") at POST " + base + flow->endpoint);
    for (const auto& step : flow->steps) {
      std::string description = step.step->Describe();
      if (!description.empty()) LogInfo("  step '" + step.id + "' (" + step.type + "): " + description);
    }
  }
  LogInfo("playground at " + base + "/ ; up to " + std::to_string(server_options.threads) + " worker threads and " +
          std::to_string(service_options.max_streams) + " concurrent streams");
  // Tests read the bound port from this line when they pass --port 0.
  std::cout << "listening on " << base << std::endl;

  int received = 0;
  sigwait(&signals, &received);
  LogInfo(std::string("received ") + (received == SIGINT ? "SIGINT" : "SIGTERM") +
          ", no longer accepting; draining " + std::to_string(service->ActiveStreams()) + " stream(s) for up to " +
          std::to_string(drain_s) + " s");
  server.Shutdown(to_ms(drain_s));
  LogInfo("stopped");
  return 0;
}

}  // namespace flowrun
