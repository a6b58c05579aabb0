// FlowCatalog: reloads keep the last good version of every flow.
#include "flow/flow_catalog.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fakes/fake_llm_client.h"

namespace flowrun {
namespace {

namespace fs = std::filesystem;

std::string Flow(const std::string& name) {
  return "version: 1\nname: " + name + "\nsteps:\n  - type: llm-stream\n";
}

TEST(FlowCatalog, InvalidEditsAndFailedListingsNeverUnloadAFlow) {
  const fs::path dir = fs::temp_directory_path() / ("flowrun-catalog-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "a.yaml") << Flow("a");
  std::ofstream(dir / "b.yaml") << Flow("b");
  StepRegistry registry = testing::BuiltinRegistry();
  FlowCatalog catalog({dir.string()}, registry, testing::FakeEnvironment(std::make_shared<testing::FakeLlmClient>()));

  auto first = catalog.Reload();
  EXPECT_TRUE(first.problems.empty());
  ASSERT_EQ(first.flows.size(), 2u);
  catalog.Commit();

  std::ofstream(dir / "a.yaml", std::ios::trunc) << "version: 1\nname: a\nsteps:\n  - type: llm-strem\n";
  auto invalid = catalog.Reload();
  ASSERT_EQ(invalid.problems.size(), 1u);
  EXPECT_NE(invalid.problems[0].find("did you mean 'llm-stream'"), std::string::npos);
  ASSERT_EQ(invalid.flows.size(), 2u);  // a's previous version is still there
  EXPECT_EQ(invalid.flows[0]->name, "a");
  catalog.Commit();
  EXPECT_FALSE(catalog.Reload().changed);  // the same bad text is reported once

  // The directory cannot be listed (gone, or no file descriptors left).
  fs::rename(dir, dir.string() + ".moved");
  auto unlisted = catalog.Reload();
  EXPECT_FALSE(unlisted.changed);
  EXPECT_EQ(unlisted.flows.size(), 2u);
  EXPECT_FALSE(unlisted.problems.empty());
  fs::rename(dir.string() + ".moved", dir);

  fs::remove(dir / "b.yaml");  // a file really removed is unloaded
  auto removed = catalog.Reload();
  EXPECT_TRUE(removed.changed);
  ASSERT_EQ(removed.flows.size(), 1u);
  EXPECT_EQ(removed.flows[0]->name, "a");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace flowrun
