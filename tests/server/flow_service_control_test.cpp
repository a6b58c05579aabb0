// FlowService with control flows: a `call` resolves among the served
// flows, the default stream carries only the chunks of streaming steps
// (as JSON strings, as seed clients expect), ?events=all adds step events
// with paths, and concurrent runs of one flow share nothing mutable.
#include <gtest/gtest.h>

#include <thread>

#include "fakes/fake_llm_client.h"
#include "fakes/raw_http_client.h"
#include "fakes/stream_driver.h"
#include "flow/flow_loader.h"
#include "server/flow_service.h"

namespace flowrun {
namespace {

const char kMain[] = R"yaml(version: 1
name: main
endpoint: /main
input:
  message: {type: string, required: true}
steps:
  - id: both
    type: parallel
    branches:
      quiet: [{id: classify, type: llm-stream, stream: false, output: category}]
      named: [{id: name, type: call, flow: namer, input: {who: "{{ input.message }}"}, output: greeting,
               output_from: text}]
  - id: answer
    type: llm-stream
    messages: [{role: user, content: "{{ greeting }} ({{ category }})"}]
)yaml";

const char kNamer[] = R"yaml(version: 1
name: namer
endpoint: /namer
input:
  who: {type: string, required: true}
steps:
  - {id: hello, type: set, values: {text: "hello {{ input.who }}"}}
)yaml";

class StringWriter : public StreamWriter {
 public:
  bool Write(std::string_view bytes) override {
    text += bytes;
    return true;
  }
  std::string text;
};

struct Fixture {
  std::shared_ptr<testing::FakeLlmClient> client = std::make_shared<testing::FakeLlmClient>();
  FlowService service;
  Fixture() {
    StepRegistry registry = testing::BuiltinRegistry();
    auto environment = testing::FakeEnvironment(client);
    auto main = LoadFlowFromString(kMain, "main.yaml", registry, environment);
    auto namer = LoadFlowFromString(kNamer, "namer.yaml", registry, environment);
    EXPECT_TRUE(main.flow && namer.flow) << main.diagnostics.ToString() << namer.diagnostics.ToString();
    EXPECT_TRUE(service.SetFlows({main.flow, namer.flow}).ok());
  }
  std::vector<std::map<std::string, std::string>> Post(const std::string& path, const std::string& body) {
    HttpRequest request{"POST", path.substr(0, path.find('?')), {}, {{"content-type", "application/json"}}, body};
    if (path.find("?events=all") != std::string::npos) request.query["events"] = "all";
    StringWriter writer;
    testing::DriveStream(service.Handle(request), writer);
    return testing::ParseSse(writer.text);
  }
};

TEST(FlowServiceControl, TheDefaultStreamCarriesOnlyTheStreamingStepsChunksAsStrings) {
  Fixture fixture;
  auto events = fixture.Post("/main", R"({"message":"ada"})");
  ASSERT_EQ(events.size(), 4u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(events[i]["event"], "chunk");
  EXPECT_EQ(events[0]["data"], "\"Hel\"");
  EXPECT_EQ(events[3]["data"], "[DONE]");
  const auto requests = fixture.client->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].messages.back().content, "hello ada (Hello!)") << "the call's output and the quiet reply";
}

TEST(FlowServiceControl, AllEventsCarryPathsAlsoInsideACalledFlow) {
  Fixture fixture;
  auto events = fixture.Post("/main?events=all", R"({"message":"ada"})");
  std::vector<std::string> paths;
  for (const auto& event : events) {
    if (event.at("event") == "step:before") paths.push_back(nlohmann::json::parse(event.at("data"))["path"]);
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"both", "both/branches.quiet/classify", "both/branches.named/name",
                                             "both/branches.named/name/flow.namer/hello", "answer"}));
}

TEST(FlowServiceControl, ConcurrentRunsOfOneFlowShareNothingMutable) {
  Fixture fixture;
  std::vector<std::thread> threads;
  std::vector<std::string> prompts;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto events = fixture.Post("/main", R"({"message":"n)" + std::to_string(i) + R"("})");
      EXPECT_EQ(events.size(), 4u);
    });
  }
  for (auto& thread : threads) thread.join();
  const auto requests = fixture.client->requests();
  EXPECT_EQ(requests.size(), 16u);
  for (const auto& request : requests) {
    // The quiet classifier sends no messages (no system prompt, empty history).
    if (!request.messages.empty()) prompts.push_back(request.messages.back().content);
  }
  std::sort(prompts.begin(), prompts.end());
  std::vector<std::string> expected;
  for (int i = 0; i < 8; ++i) expected.push_back("hello n" + std::to_string(i) + " (Hello!)");
  EXPECT_EQ(prompts, expected) << "each run saw its own input and its own branches' writes";
}

}  // namespace
}  // namespace flowrun
