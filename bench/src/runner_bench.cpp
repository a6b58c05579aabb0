// flowrun_runner_bench (scenario h): what a flow's control steps cost per
// run, in process. Loads a base flow and a flow with control steps (burst20
// and control20) with flowrun's own libraries, every model step answered by
// the offline mock provider without delay, and runs each many times on one
// event loop, as a server's run loop does (step events dropped, chunks
// appended to a buffer, as the SSE session does by default). Prints per
// flow the thread CPU µs per run (the figure: it leaves out the time the
// thread waited for a CPU on a shared machine) and the wall µs per run,
// over repeats in which the two flows alternate in small batches, after a
// warm-up; the added cost is the difference within each repeat. Every run is checked (ok, the exact reply streamed).
// One JSON object on stdout, a summary on stderr. Single-threaded.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cancel_scope.h"
#include "core/event_loop.h"
#include "core/task.h"
#include "flow/flow_loader.h"
#include "flow/runner.h"
#include "llm/mock_client.h"
#include "steps/step_registry.h"

namespace flowrun {
namespace {

struct Options {
  std::string base = "bench/flows/burst20.yaml";
  std::string flow = "bench/flows/control20.yaml";
  std::string message = "hi";
  int runs = 20000;    // per flow per repeat
  int repeats = 7;
  int warmup = 2000;   // per flow, before the first repeat
  int batch = 500;     // runs of one flow before switching to the other
  std::string label = "h:runner";
};

[[noreturn]] void Usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "flowrun_runner_bench: " << problem << "\n";
  std::cerr << "usage: flowrun_runner_bench [--base FLOW] [--flow FLOW] [--runs N] [--repeats R] [--warmup W]\n"
               "                            [--batch B] [--message TEXT] [--label LABEL]\n"
               "Runs both flows N times per repeat (in alternating batches of B runs, after W warm-up runs each)\n"
               "on one event loop with the mock provider (no delay) and prints CPU and wall microseconds per\n"
               "run, and the difference, as JSON. Defaults: --base bench/flows/burst20.yaml\n"
               "--flow bench/flows/control20.yaml --runs 20000 --repeats 7 --warmup 2000 --batch 500 --message hi\n";
  std::exit(2);
}

int PositiveInt(const std::string& name, const char* text) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < 0 || value > 100000000) Usage(name + " wants a count, got '" + text + "'");
  return static_cast<int>(value);
}

Options Parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") Usage("");
    if (i + 1 >= argc) Usage(arg + " needs a value");
    const char* value = argv[++i];
    if (arg == "--base") {
      options.base = value;
    } else if (arg == "--flow") {
      options.flow = value;
    } else if (arg == "--runs") {
      options.runs = PositiveInt(arg, value);
    } else if (arg == "--repeats") {
      options.repeats = PositiveInt(arg, value);
    } else if (arg == "--warmup") {
      options.warmup = PositiveInt(arg, value);
    } else if (arg == "--batch") {
      options.batch = PositiveInt(arg, value);
    } else if (arg == "--message") {
      options.message = value;
    } else if (arg == "--label") {
      options.label = value;
    } else {
      Usage("unknown option " + arg);
    }
  }
  if (options.runs < 1 || options.repeats < 1 || options.batch < 1) {
    Usage("--runs, --repeats and --batch must be at least 1");
  }
  return options;
}

// Every provider is the offline mock without delay: the model step costs
// what it costs on the loop, nothing waits.
StepEnvironment MockEnvironment() {
  StepEnvironment environment;
  environment.getenv = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  std::shared_ptr<LlmClient> mock = MakeMockClient(MockConfig{});
  environment.make_llm_client = [mock](const ProviderSettings&) { return mock; };
  return environment;
}

std::shared_ptr<const Flow> Load(const std::string& path, const StepRegistry& registry,
                                 const StepEnvironment& environment) {
  LoadResult loaded = LoadFlowFromFile(path, registry, environment);
  if (!loaded.flow) {
    std::cerr << loaded.diagnostics.ToString();
    std::cerr << "flowrun_runner_bench: " << path << " does not load\n";
    std::exit(1);
  }
  return loaded.flow;
}

double ThreadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Sample {
  double cpu_s = 0;   // in all
  double wall_s = 0;  // in all
  int runs = 0;
  double CpuUs() const { return cpu_s * 1e6 / runs; }
  double WallUs() const { return wall_s * 1e6 / runs; }
};

// Runs `flow` `runs` times in a row on `loop`; fails the program on a run
// that does not end ok with `expected` streamed.
Task<Sample> RunMany(EventLoop& loop, const Flow& flow, const nlohmann::json& input, int runs,
                     const std::string& expected) {
  std::string streamed;
  streamed.reserve(expected.size() * 2);
  const EventSink sink = [&streamed](const Event& event) {
    if (event.type == Event::Type::kChunk) streamed += event.text;
    return true;
  };
  const double cpu_start = ThreadCpuSeconds();
  const double wall_start = WallSeconds();
  for (int i = 0; i < runs; ++i) {
    streamed.clear();
    CancelScope scope;
    RunEnvironment env{loop, scope, nullptr, nullptr, nullptr, nullptr, kMaxStepsPerRun};
    env.step_events = false;  // the sink drops them, as the SSE stream does by default
    RunResult result = co_await RunFlowAsync(flow, input, sink, env);
    if (!result.ok || streamed != expected) {
      std::cerr << "flowrun_runner_bench: flow '" << flow.name << "' run " << i << " went wrong: "
                << (result.ok ? "streamed '" + streamed + "', expected '" + expected + "'" : result.error) << "\n";
      std::exit(1);
    }
  }
  Sample sample;
  sample.cpu_s = ThreadCpuSeconds() - cpu_start;
  sample.wall_s = WallSeconds() - wall_start;
  sample.runs = runs;
  co_return sample;
}

struct Series {
  std::vector<double> base_cpu, flow_cpu, added_cpu, base_wall, flow_wall, added_wall;
};

Task<void> Measure(EventLoop& loop, const Options& options, const Flow& base, const Flow& flow,
                   const nlohmann::json& input, const std::string& expected, Series* series) {
  if (options.warmup > 0) {
    co_await RunMany(loop, base, input, options.warmup, expected);
    co_await RunMany(loop, flow, input, options.warmup, expected);
  }
  for (int repeat = 0; repeat < options.repeats; ++repeat) {
    // Small batches, alternating (and which flow goes first alternating
    // too), so both flows see the same machine: on a shared one its load
    // changes within seconds.
    Sample b, f;
    for (int done = 0, turn = repeat; done < options.runs; done += options.batch, ++turn) {
      const int runs = std::min(options.batch, options.runs - done);
      for (int side = 0; side < 2; ++side) {
        const bool base_now = (turn + side) % 2 == 0;
        Sample s = co_await RunMany(loop, base_now ? base : flow, input, runs, expected);
        Sample& into = base_now ? b : f;
        into.cpu_s += s.cpu_s;
        into.wall_s += s.wall_s;
        into.runs += s.runs;
      }
    }
    series->base_cpu.push_back(b.CpuUs());
    series->flow_cpu.push_back(f.CpuUs());
    series->added_cpu.push_back(f.CpuUs() - b.CpuUs());
    series->base_wall.push_back(b.WallUs());
    series->flow_wall.push_back(f.WallUs());
    series->added_wall.push_back(f.WallUs() - b.WallUs());
    std::fprintf(stderr, "  repeat %d: %s %.2f µs, %s %.2f µs CPU per run: +%.2f µs (wall %.2f / %.2f)\n",
                 repeat + 1, base.name.c_str(), b.CpuUs(), flow.name.c_str(), f.CpuUs(), f.CpuUs() - b.CpuUs(),
                 b.WallUs(), f.WallUs());
  }
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

nlohmann::json Stats(const std::vector<double>& values) {
  return {{"median", Median(values)},
          {"min", *std::min_element(values.begin(), values.end())},
          {"max", *std::max_element(values.begin(), values.end())},
          {"all", values}};
}

double LoadAverage() {
  double one = -1;
  if (FILE* file = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(file, "%lf", &one) != 1) one = -1;
    std::fclose(file);
  }
  return one;
}

int Main(int argc, char** argv) {
  const Options options = Parse(argc, argv);
  StepRegistry registry;
  RegisterBuiltinSteps(registry);
  const StepEnvironment environment = MockEnvironment();
  const std::shared_ptr<const Flow> base = Load(options.base, registry, environment);
  const std::shared_ptr<const Flow> flow = Load(options.flow, registry, environment);
  InputError input_error;
  const std::optional<nlohmann::json> input = base->input.Validate({{"message", options.message}}, &input_error);
  if (!input || !flow->input.Validate({{"message", options.message}}, &input_error)) {
    std::cerr << "flowrun_runner_bench: " << input_error.message << "\n";
    return 1;
  }
  // What the mock answers (src/llm/mock_client.cpp): both flows must stream exactly this.
  const std::string expected = "You said: \"" + options.message +
                               "\". This is flowrun's mock model; set OPENAI_API_KEY or OPENAI_BASE_URL to use a "
                               "real one.";

  EventLoop loop;
  if (Status status = loop.Init(); !status.ok()) {
    std::cerr << "flowrun_runner_bench: cannot start the event loop: " << status.message() << "\n";
    return 1;
  }
  const double load_before = LoadAverage();
  Series series;
  std::exception_ptr failure;
  loop.Post([&] {
    StartTask(Measure(loop, options, *base, *flow, *input, expected, &series), [&](std::exception_ptr error) {
      failure = error;
      loop.Stop();
    });
  });
  loop.Run();
  if (failure) std::rethrow_exception(failure);

  nlohmann::json out = {
      {"label", options.label},
      {"kind", "runner"},
      {"base_flow", base->name},
      {"flow", flow->name},
      {"runs_per_repeat", options.runs},
      {"repeats", options.repeats},
      {"warmup_runs", options.warmup},
      {"batch_runs", options.batch},
      {"loadavg_before", load_before},
      {"loadavg_after", LoadAverage()},
      {"base_cpu_us", Stats(series.base_cpu)},
      {"flow_cpu_us", Stats(series.flow_cpu)},
      {"added_cpu_us", Stats(series.added_cpu)},
      {"base_wall_us", Stats(series.base_wall)},
      {"flow_wall_us", Stats(series.flow_wall)},
      {"added_wall_us", Stats(series.added_wall)},
  };
  std::fprintf(stderr, "%s: %s %.2f µs, %s %.2f µs CPU per run (medians of %d x %d runs): added %.2f µs [%.2f..%.2f]\n",
               options.label.c_str(), base->name.c_str(), Median(series.base_cpu), flow->name.c_str(),
               Median(series.flow_cpu), options.repeats, options.runs, Median(series.added_cpu),
               out["added_cpu_us"]["min"].get<double>(), out["added_cpu_us"]["max"].get<double>());
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace
}  // namespace flowrun

int main(int argc, char** argv) { return flowrun::Main(argc, argv); }
