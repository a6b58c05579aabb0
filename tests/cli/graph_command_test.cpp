// `flowrun graph`: the flow as Mermaid (default) or DOT on stdout, exactly;
// a broken file gets validate's diagnostics and exit 1; a bad --format exit 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using testing::RunProcess;

const std::string kBinary = FLOWRUN_BINARY;
const std::string kChat = std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml";

TEST(GraphCommand, PrintsMermaidByDefault) {
  const auto result = RunProcess({kBinary, "graph", kChat});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out, R"(flowchart TD
  flow_start(("start"))
  user["user<br/>append-message"]
  reply["reply<br/>llm-stream"]
  step3["step3<br/>append-reply"]
  flow_end(("end"))
  flow_start --> user
  user --> reply
  reply --> step3
  step3 --> flow_end
)");
}

TEST(GraphCommand, PrintsDot) {
  const auto result = RunProcess({kBinary, "graph", kChat, "--format", "dot"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, R"(digraph "chat" {
  graph [fontname="Helvetica"];
  node [shape=box, fontname="Helvetica"];
  edge [fontname="Helvetica"];
  flow_start [label="start", shape=circle];
  user [label="user\nappend-message"];
  reply [label="reply\nllm-stream"];
  step3 [label="step3\nappend-reply"];
  flow_end [label="end", shape=doublecircle];
  flow_start -> user;
  user -> reply;
  reply -> step3;
  step3 -> flow_end;
}
)");
}

TEST(GraphCommand, PrintsTheJsonThePlaygroundGets) {
  const auto result = RunProcess({kBinary, "graph", kChat, "--format", "json"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["name"], "chat");
  ASSERT_EQ(json["nodes"].size(), 5u);
  EXPECT_EQ(json["nodes"][2]["path"], "reply");
  EXPECT_EQ(json["edges"].size(), 4u);
}

TEST(GraphCommand, ABrokenFileGetsTheDiagnosticsOfValidate) {
  const std::string bad = testing::WriteTempFile("graph-bad.yaml", R"(version: 1
name: bad
steps:
  - type: append-mesage
    content: hi
  - type: llm-stream
    temperature: hot
)");
  const auto graph = RunProcess({kBinary, "graph", bad});
  const auto validate = RunProcess({kBinary, "validate", bad});
  EXPECT_EQ(graph.exit_code, 1);
  EXPECT_EQ(graph.out, "");
  EXPECT_EQ(graph.err, bad + R"(:4:11: error: unknown step type 'append-mesage'; did you mean 'append-message'?
      - type: append-mesage
              ^~~~~~~~~~~~~
)" + bad + R"(:7:18: error: 'temperature' must be a number, got a string
        temperature: hot
                     ^~~
)");
  EXPECT_EQ(graph.err, validate.err);

  const auto missing = RunProcess({kBinary, "graph", bad + ".missing"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, bad + ".missing: error: cannot read file: No such file or directory\n");
}

TEST(GraphCommand, AnUnknownFormatIsAUsageError) {
  const auto result = RunProcess({kBinary, "graph", kChat, "--format", "svg"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("--format: svg not in {mermaid,dot,json}"), std::string::npos) << result.err;
}

TEST(GraphCommand, IsInTheHelp) {
  const auto result = RunProcess({kBinary, "--help"});
  EXPECT_NE(result.out.find("  graph     print a flow as a graph (Mermaid or Graphviz DOT)\n"), std::string::npos)
      << result.out;
}

}  // namespace
}  // namespace flowrun
