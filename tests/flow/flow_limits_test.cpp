// Flow-level limits and hostile values: the step count, over-long names and
// endpoints (checked without std::regex, which recursed per character), and
// an alias bomb through the whole loader.
#include <gtest/gtest.h>

#include "fakes/fake_llm_client.h"
#include "flow/flow_loader.h"

namespace flowrun {
namespace {

using testing::BuiltinRegistry;
using testing::FakeEnvironment;
using testing::FakeLlmClient;

LoadResult Load(const std::string& source) {
  StepRegistry registry = BuiltinRegistry();
  return LoadFlowFromString(source, "flows/x.yaml", registry, FakeEnvironment(std::make_shared<FakeLlmClient>()));
}

std::string Steps(size_t count) {
  std::string steps;
  for (size_t i = 0; i < count; ++i) steps += "  - type: append-reply\n";
  return steps;
}

TEST(FlowLimits, AThousandStepsAreFineOneMoreIsNot) {
  auto fine = Load("version: 1\nname: x\nsteps:\n" + Steps(1000));
  ASSERT_TRUE(fine.flow) << fine.diagnostics.ToString();
  EXPECT_EQ(fine.flow->steps.size(), 1000u);

  auto over = Load("version: 1\nname: x\nsteps:\n" + Steps(1001));
  EXPECT_FALSE(over.flow);
  EXPECT_EQ(over.diagnostics.ToString(),
            "flows/x.yaml:4:3: error: the flow has 1001 steps, more than 1000 (the limit for a flow file)\n"
            "      - type: append-reply\n"
            "      ^\n");
}

TEST(FlowLimits, LongNamesAndEndpointsAreCheckedWithoutRecursion) {
  const std::string name(500000, 'a');
  auto long_name = Load("version: 1\nname: " + name + "\nendpoint: /" + name + "\nsteps:\n  - type: append-reply\n");
  ASSERT_TRUE(long_name.flow) << long_name.diagnostics.ToString().substr(0, 200);
  EXPECT_EQ(long_name.flow->endpoint, "/" + name);

  auto bad = Load("version: 1\nname: " + name + "!\nsteps:\n  - type: append-reply\n");
  ASSERT_EQ(bad.diagnostics.list().size(), 1u);
  EXPECT_EQ(bad.diagnostics.list()[0].message, "name '" + name + "!' may only hold letters, digits, '.', '_' and '-'");
}

TEST(FlowLimits, EndpointsMustBePaths) {
  for (const std::string endpoint : {"/chat", "/a/b.c/~d_e-f"}) {
    auto ok = Load("version: 1\nname: x\nendpoint: " + endpoint + "\nsteps:\n  - type: append-reply\n");
    EXPECT_TRUE(ok.flow) << endpoint << ": " << ok.diagnostics.ToString();
  }
  for (const std::string endpoint : {"chat", "/", "/a/", "//a", "/a//b", "/a b", "/a?b"}) {
    auto bad = Load("version: 1\nname: x\nendpoint: \"" + endpoint + "\"\nsteps:\n  - type: append-reply\n");
    ASSERT_EQ(bad.diagnostics.list().size(), 1u) << endpoint;
    EXPECT_EQ(bad.diagnostics.list()[0].message, "endpoint '" + endpoint + "' must be a path like /chat");
  }
}

TEST(FlowLimits, AnAliasBombIsADiagnostic) {
  std::string bomb = "version: 1\nname: x\nsteps:\n  - type: append-reply\nl0: &l0 [x,x,x,x,x,x,x,x,x,x]\n";
  for (int i = 1; i < 9; ++i) {
    const std::string previous = "*l" + std::to_string(i - 1);
    bomb += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += previous + (j < 9 ? "," : "]\n");
  }
  auto result = Load(bomb);
  EXPECT_FALSE(result.flow);
  ASSERT_EQ(result.diagnostics.list().size(), 1u);
  // Nodes before l4's list items (keys count): 10 (the header) + 12 (l0)
  // + 112 + 1112 + 11112 + 2 = 12360, then each *l3 adds 11111: the 8th
  // passes 100000.
  EXPECT_EQ(result.diagnostics.ToString().substr(0, result.diagnostics.ToString().find('\n')),
            "flows/x.yaml:9:38: error: YAML aliases expand to more than 100000 nodes (the limit for a flow file)");
}

}  // namespace
}  // namespace flowrun
