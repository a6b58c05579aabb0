// `flowrun run` with control steps: a `call` resolved among the flow files
// beside FILE (a broken sibling nothing calls does no harm), `--events`
// lines with paths, iterations and branches, and a run that fails in a
// nested step.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using testing::RunProcess;

const std::map<std::string, std::optional<std::string>> kOffline = {{"OPENAI_API_KEY", std::nullopt},
                                                                     {"OPENAI_BASE_URL", std::nullopt}};

// A directory of its own per test, holding the given files.
std::string Dir(const std::string& test, const std::map<std::string, std::string>& files) {
  auto dir = std::filesystem::temp_directory_path() / ("flowrun-run-control-" + std::to_string(getpid()) + "-" + test);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& [name, text] : files) std::ofstream(dir / name) << text;
  return dir.string();
}

const char kMain[] = R"yaml(version: 1
name: main
input:
  docs: array
steps:
  - id: each
    type: map
    over: input.docs
    steps:
      - {id: sum, type: call, flow: summarize, input: {text: "{{ item }}"}, output: s, output_from: reply}
    collect: s
    output: summaries
  - id: show
    type: append-message
    content: "{{ summaries | join(', ') }}"
  - id: say
    type: llm-stream
)yaml";

const char kSummarize[] = R"yaml(version: 1
name: summarize
input:
  text: {type: string, required: true}
steps:
  - {id: short, type: set, values: {reply: "{{ input.text | upper }}"}}
)yaml";

TEST(RunControl, CallRunsAFlowBesideTheFile) {
  const std::string dir = Dir("call", {{"main.yaml", kMain}, {"summarize.yaml", kSummarize},
                                       {"broken.yaml", "version: 1\nname: broken\nsteps: [{type: nope}]\n"}});
  auto result = RunProcess({FLOWRUN_BINARY, "run", dir + "/main.yaml", "--input-json", R"({"docs": ["a", "b"]})"},
                           kOffline);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "You said: \"A, B\". This is flowrun's mock model; set OPENAI_API_KEY or OPENAI_BASE_URL to use a real "
            "one.\n");
}

TEST(RunControl, EventsCarryPathsIterationsAndWhatControlStepsDid) {
  const std::string dir = Dir("events", {{"main.yaml", kMain}, {"summarize.yaml", kSummarize}});
  auto result = RunProcess(
      {FLOWRUN_BINARY, "run", dir + "/main.yaml", "--events", "--input-json", R"({"docs": ["a", "b"]})"}, kOffline);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::istringstream lines(result.out);
  std::vector<nlohmann::json> events;
  for (std::string line; std::getline(lines, line);) events.push_back(nlohmann::json::parse(line));
  ASSERT_GE(events.size(), 10u);
  auto drop_duration = [](nlohmann::json event) {
    event.erase("duration_ms");
    return event;
  };
  EXPECT_EQ(events[2], nlohmann::json::parse(R"({"event":"step:before","step":"short","type":"set","index":0,
      "path":"each/steps/sum/flow.summarize/short","iteration":1})"));
  EXPECT_EQ(drop_duration(events[9]), nlohmann::json::parse(R"({"event":"step:after","step":"each","type":"map",
      "index":0,"path":"each","iterations":2})"));
  bool chunk_with_path = false;
  for (const auto& event : events) {
    if (event["event"] == "chunk") chunk_with_path = event["path"] == "say" && event["step"] == "say";
  }
  EXPECT_TRUE(chunk_with_path) << result.out;
}

TEST(RunControl, ACallToAFlowThatIsNotBesideTheFileIsRefusedBeforeTheRun) {
  const std::string dir = Dir("missing", {{"main.yaml", kMain}});
  auto result = RunProcess({FLOWRUN_BINARY, "run", dir + "/main.yaml", "--input-json", R"({"docs": ["a"]})"},
                           kOffline);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, dir + "/main.yaml:10:37: error: call 'sum': no flow named 'summarize' is loaded beside this "
                              "one\n"
                              "          - {id: sum, type: call, flow: summarize, input: {text: \"{{ item }}\"}, output: "
                              "s, output_from: reply}\n"
                              "                                        ^~~~~~~~~\n");
}

}  // namespace
}  // namespace flowrun
