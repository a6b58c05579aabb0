// The example flows in flows/, run offline with their scripted mock replies:
// each takes the path its input asks for and answers exactly the scripted
// text. They use control steps, `stream: false`, `messages` and Jinja
// templates.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fakes/raw_http_client.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using testing::RunProcess;

const std::string kBinary = FLOWRUN_BINARY;
const std::string kFlows = std::string(FLOWRUN_SOURCE_DIR) + "/flows/";
const std::map<std::string, std::optional<std::string>> kOffline = {{"OPENAI_API_KEY", std::nullopt},
                                                                     {"OPENAI_BASE_URL", std::nullopt}};

std::string RunExample(const std::string& flow, const std::vector<std::string>& inputs) {
  std::vector<std::string> argv = {kBinary, "run", kFlows + flow};
  for (const auto& input : inputs) {
    argv.push_back("--input");
    argv.push_back(input);
  }
  const auto result = RunProcess(argv, kOffline);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return result.out;
}

std::vector<nlohmann::json> Events(const std::string& flow, const std::vector<std::string>& inputs) {
  std::vector<std::string> argv = {kBinary, "run", kFlows + flow, "--events"};
  for (const auto& input : inputs) {
    argv.push_back("--input");
    argv.push_back(input);
  }
  const auto result = RunProcess(argv, kOffline);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  std::vector<nlohmann::json> events;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) events.push_back(nlohmann::json::parse(line));
  return events;
}

const nlohmann::json* Find(const std::vector<nlohmann::json>& events, const std::string& name,
                           const std::string& path) {
  for (const auto& event : events) {
    if (event.value("event", "") == name && event.value("path", "") == path) return &event;
  }
  return nullptr;
}

TEST(ExampleFlows, AllValidate) {
  const auto result = RunProcess({kBinary, "validate", kFlows}, kOffline);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
}

TEST(ExampleFlows, RouterAnswersPerCategory) {
  EXPECT_EQ(RunExample("router.yaml", {"message=my invoice is wrong"}),
            "Billing desk: I looked into \"my invoice is wrong\". A corrected invoice is on its way, and any refund "
            "shows on your statement within five working days.\n");
  EXPECT_EQ(RunExample("router.yaml", {"message=the app shows an Error"}),
            "Tech support: sorry about \"the app shows an Error\". Which version are you on, and what does the error "
            "say exactly? A restart clears most transient errors.\n");
  EXPECT_EQ(RunExample("router.yaml", {"message=hello"}),
            "This question (\"hello\") is neither about billing nor a technical problem, so the general assistant "
            "answers it.\n");
  const auto events = Events("router.yaml", {"message=a refund please"});
  const nlohmann::json* route = Find(events, "step:after", "route");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ((*route)["branch"], "billing");
  EXPECT_EQ(Find(events, "chunk", "classify"), nullptr) << "classify streams nothing to the client";
  EXPECT_NE(Find(events, "chunk", "route/cases.billing/billing_answer"), nullptr);
}

TEST(ExampleFlows, GenerateUntilValidRevisesOnceThenStops) {
  EXPECT_EQ(RunExample("generate-until-valid.yaml", {"message=Autumn"}),
            "Here is your haiku about Autumn, accepted after 2 reviews: autumn at dusk / drifting on the evening air "
            "/ words fall into place\n");
  const auto events = Events("generate-until-valid.yaml", {"message=Autumn"});
  const nlohmann::json* loop = Find(events, "step:after", "improve");
  ASSERT_NE(loop, nullptr);
  EXPECT_EQ((*loop)["iterations"], 2);
  EXPECT_FALSE(loop->value("limit_reached", false));
  int revisions = 0;
  for (const auto& event : events) {
    if (event.value("event", "") == "step:after" && event.value("path", "") == "improve/steps/revise" &&
        !event.value("skipped", false)) {
      ++revisions;
    }
  }
  EXPECT_EQ(revisions, 1);
}

TEST(ExampleFlows, ParallelResearchMergesBothBranches) {
  EXPECT_EQ(RunExample("parallel-research.yaml", {"message=Rust"}),
            "Brief on Rust. Rust is a broad subject. Most sources agree on its basics. The open questions are about "
            "its limits. Keywords: rust, history, methods, limits, open questions.\n");
}

TEST(ExampleFlows, MapDocumentsSummarizesEachInOrder) {
  EXPECT_EQ(RunExample("map-documents.yaml", {}),
            "3 documents, in short: flowrun runs LLM flows declared in YAML. A flow is a list of steps. The "
            "playground draws each flow as a graph.\n");
  const auto events = Events("map-documents.yaml", {});
  const nlohmann::json* map = Find(events, "step:after", "summaries");
  ASSERT_NE(map, nullptr);
  EXPECT_EQ((*map)["iterations"], 3);
}

// `make run` serves the whole directory: every example loads (control
// steps at the top level included), each nested model step is logged by its
// path, and the router answers over a socket with its scripted reply.
TEST(ExampleFlows, ServeAnswersEveryExampleFromTheDirectory) {
  const std::string log = testing::WriteTempFile("serve-examples.log", "");
  {
    testing::ServeProcess server({kFlows}, kOffline, log);
    ASSERT_GT(server.port(), 0) << "flowrun serve flows/ did not start";
    auto response = testing::RawRequest(server.port(), "POST", "/router", R"({"message":"my invoice is wrong"})");
    ASSERT_EQ(response.status, 200) << response.body;
    std::string text;
    for (const auto& event : testing::ParseSse(response.body)) {
      if (event.at("event") == "chunk") text += nlohmann::json::parse(event.at("data")).get<std::string>();
    }
    EXPECT_EQ(text, "Billing desk: I looked into \"my invoice is wrong\". A corrected invoice is on its way, and "
                    "any refund shows on your statement within five working days.");
  }
  std::ifstream in(log);
  const std::string logged((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(logged.find("step 'route/cases.billing/billing_answer' (llm-stream): mock"), std::string::npos) << logged;
}

}  // namespace
}  // namespace flowrun
