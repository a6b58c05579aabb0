// The flowrun binary: run, validate, steps and unknown commands, with exit
// codes and output exactly as a user sees them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using testing::RunProcess;

const std::string kBinary = FLOWRUN_BINARY;
const std::string kChat = std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml";
// The mock provider, whatever the developer's shell has set.
const std::map<std::string, std::optional<std::string>> kOffline = {{"OPENAI_API_KEY", std::nullopt},
                                                                     {"OPENAI_BASE_URL", std::nullopt}};
const std::string kMockReplyToHi =
    "You said: \"hi\". This is flowrun's mock model; set OPENAI_API_KEY or OPENAI_BASE_URL to use a real one.";

std::string WriteTemp(const std::string& name, const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / ("flowrun-cli-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

TEST(Cli, RunPrintsTheStreamedReply) {
  auto result = RunProcess({kBinary, "run", kChat, "--input", "message=hi"}, kOffline);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, kMockReplyToHi + "\n");
}

TEST(Cli, RunReadsJsonFromStdinOrFlag) {
  auto from_stdin = RunProcess({kBinary, "run", kChat}, kOffline, R"({"message":"hi"})");
  EXPECT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, kMockReplyToHi + "\n");
  auto from_flag = RunProcess({kBinary, "run", kChat, "--input-json", R"({"message":"hi","history":[]})"}, kOffline);
  EXPECT_EQ(from_flag.out, kMockReplyToHi + "\n");
}

TEST(Cli, RunEventsPrintsOneJsonObjectPerLine) {
  auto result = RunProcess({kBinary, "run", kChat, "--input", "message=hi", "--events"}, kOffline);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::istringstream lines(result.out);
  std::vector<nlohmann::json> events;
  std::string line;
  std::string text;
  while (std::getline(lines, line)) {
    events.push_back(nlohmann::json::parse(line));
    if (events.back()["event"] == "chunk") text += events.back()["text"].get<std::string>();
  }
  ASSERT_GE(events.size(), 8u);
  EXPECT_EQ(events.front(), nlohmann::json::parse(R"({"event":"step:before","step":"user","path":"user","type":"append-message","index":0})"));
  // done carries the run's usage: here the one model step's.
  nlohmann::json model_usage;
  for (const auto& event : events) {
    if (event["event"] == "step:after" && event["step"] == "reply") model_usage = event["usage"];
  }
  ASSERT_TRUE(model_usage.is_object()) << "the model step's step:after has its usage";
  EXPECT_GT(model_usage["completion_tokens"].get<int>(), 0);
  EXPECT_EQ(events.back(), nlohmann::json({{"event", "done"}, {"ok", true}, {"usage", model_usage}}));
  EXPECT_EQ(text, kMockReplyToHi);
}

TEST(Cli, RunFailsWithMessageOnBadInputAndUpstreamErrors) {
  auto missing = RunProcess({kBinary, "run", kChat}, kOffline, "");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err, "flowrun run: input 'message' is required\n");
  auto unreachable = RunProcess({kBinary, "run", kChat, "--input", "message=hi"},
                                {{"OPENAI_BASE_URL", "http://127.0.0.1:1/v1"}, {"OPENAI_API_KEY", "sk-secret-123"}});
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_EQ(unreachable.out, "");
  EXPECT_NE(unreachable.err.find("flowrun run: error in step 'reply': cannot reach upstream http://127.0.0.1:1/v1"),
            std::string::npos)
      << unreachable.err;
  EXPECT_EQ(unreachable.err.find("sk-secret-123"), std::string::npos);
}

TEST(Cli, ValidateReportsMisspeltTypeWithCaretAndSuggestion) {
  std::string path = WriteTemp("bad.yaml", "version: 1\nname: bad\nsteps:\n  - type: llm-strem\n");
  auto result = RunProcess({kBinary, "validate", path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, path + ":4:11: error: unknown step type 'llm-strem'; did you mean 'llm-stream'?\n"
                               "      - type: llm-strem\n"
                               "              ^~~~~~~~~\n");
  auto clean = RunProcess({kBinary, "validate", kChat});
  EXPECT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_EQ(clean.out, kChat + ": ok (flow 'chat', POST /chat, 3 steps)\n");
  auto missing = RunProcess({kBinary, "validate", "/nonexistent.yaml"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "/nonexistent.yaml: error: no such file or directory\n");
}

// A directory of its own: flows/ also holds the examples of issue #11, which
// validate once the control steps land (ExampleFlows.AllValidate checks flows/).
TEST(Cli, ValidateChecksEveryFileInADirectory) {
  const std::string dir = std::filesystem::path(WriteTemp("unused", "")).parent_path() / "dir-flows";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(kChat, dir + "/chat.yaml", std::filesystem::copy_options::overwrite_existing);
  std::ofstream(dir + "/other.yml") << "version: 1\nname: other\nsteps:\n  - type: append-reply\n";
  auto result = RunProcess({kBinary, "validate", dir});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("chat.yaml: ok"), std::string::npos);
  EXPECT_NE(result.out.find("other.yml: ok (flow 'other', POST /flows/other, 1 steps)"), std::string::npos)
      << result.out;
}

TEST(Cli, ValidatePrintsWarningsAndStrictMakesThemFail) {
  const std::string dir = std::filesystem::path(WriteTemp("unused", "")).parent_path() / "warned-flows";
  std::filesystem::create_directories(dir);
  const std::string file = dir + "/w.yaml";
  std::ofstream(file) << "version: 1\nname: w\nsteps:\n  - {id: stop, type: fail, message: stop}\n"
                         "  - {id: late, type: append-message, content: hi}\n";
  const std::string warning = file +
                              ":5:22: warning: step 'late' can never run: step 'stop' before it always fails\n"
                              "      - {id: late, type: append-message, content: hi}\n"
                              "                         ^~~~~~~~~~~~~~\n";
  auto plain = RunProcess({kBinary, "validate", file});
  EXPECT_EQ(plain.exit_code, 0);
  EXPECT_EQ(plain.err, warning);
  EXPECT_EQ(plain.out, file + ": ok (flow 'w', POST /flows/w, 2 steps)\n");
  auto strict = RunProcess({kBinary, "validate", "--strict", file});
  EXPECT_EQ(strict.exit_code, 1);
  EXPECT_EQ(strict.err, warning + "flowrun validate: 1 warning, and --strict makes warnings fail\n");
}

TEST(Cli, ValidateAndRunRefuseACallToAFlowThatIsNotBesideTheFile) {
  const std::string dir = std::filesystem::path(WriteTemp("unused", "")).parent_path() / "call-flows";
  std::filesystem::create_directories(dir);
  const std::string file = dir + "/caller.yaml";
  std::ofstream(file) << "version: 1\nname: caller\nsteps:\n  - {id: sum, type: call, flow: summarize}\n";
  std::ofstream(dir + "/summarise.yaml") << "version: 1\nname: summarise\nsteps:\n  - {type: append-message, content: x}\n";
  const std::string error = file +
                            ":4:33: error: call 'sum': no flow named 'summarize' is loaded beside this one; did you "
                            "mean 'summarise'?\n"
                            "      - {id: sum, type: call, flow: summarize}\n"
                            "                                    ^~~~~~~~~\n";
  auto validated = RunProcess({kBinary, "validate", file});
  EXPECT_EQ(validated.exit_code, 1);
  EXPECT_EQ(validated.err, error);
  auto ran = RunProcess({kBinary, "run", file});
  EXPECT_EQ(ran.exit_code, 1);
  EXPECT_EQ(ran.err, error);
}

TEST(Cli, UnknownCommandSuggestsTheClosestOne) {
  auto result = RunProcess({kBinary, "serv"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, "flowrun: unknown command 'serv'; did you mean 'serve'?\n"
                        "run 'flowrun --help' for the list of commands\n");
  auto help = RunProcess({kBinary, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* name : {"run", "validate", "serve", "steps"}) {
    EXPECT_NE(help.out.find(std::string("  ") + name + " "), std::string::npos) << name;
  }
}

TEST(Cli, StepsListsTypesWithParameters) {
  auto result = RunProcess({kBinary, "steps"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("llm-stream: "), std::string::npos);
  EXPECT_NE(result.out.find("  model (string, default \"gpt-4o-mini\")"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("  content (template, required)"), std::string::npos) << result.out;
  // Control steps are listed with their parameters, and the keys every step takes once.
  EXPECT_NE(result.out.find("loop (control): "), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("  max_iterations (integer, required): the bound (required)"), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("  branches (name: steps, required)"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("every step also takes:\n  id (string)"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("  on_error (string, default \"fail\")"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("a flow's `openai:` block (false: not served at /v1), its model at "
                            "/v1/chat/completions:\n  model (string, default the flow's name)"),
            std::string::npos)
      << result.out;
}

TEST(Cli, CustomStepTypeBuiltOutsideTheCore) {
  const std::string flow = std::string(FLOWRUN_SOURCE_DIR) + "/examples/custom_step/shout.yaml";
  auto result = RunProcess({FLOWRUN_CUSTOM_BINARY, "run", flow, "--input", "message=hey there"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "HEY THERE!\n");
  // The stock binary does not know the type, and says so.
  auto stock = RunProcess({kBinary, "validate", flow});
  EXPECT_EQ(stock.exit_code, 1);
  EXPECT_NE(stock.err.find("unknown step type 'shout'"), std::string::npos);
}

}  // namespace
}  // namespace flowrun
