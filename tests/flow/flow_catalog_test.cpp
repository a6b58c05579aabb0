// FlowCatalog: reloads keep the last good version of every flow, whatever
// the files turn into; endpoint clashes are found for serve and validate.
#include "flow/flow_catalog.h"

#include <sys/stat.h>

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

namespace flowrun {
namespace {

namespace fs = std::filesystem;

std::string FlowAt(const std::string& name, const std::string& endpoint) {
  return "version: 1\nname: " + name + "\nendpoint: " + endpoint + "\nsteps:\n  - type: llm-stream\n";
}

class FlowCatalogFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("flowrun-catalog-files-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  StepRegistry registry_ = testing::BuiltinRegistry();
};

// Links that loop or lead nowhere, FIFOs and devices in a served directory
// are reported (once), never thrown, and the other flows keep serving.
TEST_F(FlowCatalogFiles, BadFileKindsAreProblemsNotExceptions) {
  std::ofstream(dir_ / "a.yaml") << FlowAt("a", "/a");
  FlowCatalog catalog({dir_.string()}, registry_, testing::FakeEnvironment(std::make_shared<testing::FakeLlmClient>()));
  auto first = catalog.Reload();
  ASSERT_TRUE(first.problems.empty());
  catalog.Commit();
  const std::string before = catalog.Fingerprint();

  fs::create_symlink(dir_ / "loop2.yaml", dir_ / "loop1.yaml");
  fs::create_symlink(dir_ / "loop1.yaml", dir_ / "loop2.yaml");
  fs::create_symlink(dir_ / "gone.yaml", dir_ / "dangling.yaml");
  fs::create_symlink("/dev/null", dir_ / "null.yaml");
  ASSERT_EQ(mkfifo((dir_ / "pipe.yaml").c_str(), 0644), 0);
  EXPECT_NE(catalog.Fingerprint(), before);  // the watcher sees them

  auto bad = catalog.Reload();
  EXPECT_TRUE(bad.changed);
  const std::string d = dir_.string() + "/";
  ASSERT_EQ(bad.problems.size(), 5u);
  EXPECT_EQ(bad.problems[0], d + "dangling.yaml: error: cannot read file: No such file or directory "
                                 "(a symbolic link to a missing file)\n");
  EXPECT_EQ(bad.problems[1], d + "loop1.yaml: error: cannot read file: Too many levels of symbolic links "
                                 "(a symbolic link loop?)\n");
  EXPECT_EQ(bad.problems[2], d + "loop2.yaml: error: cannot read file: Too many levels of symbolic links "
                                 "(a symbolic link loop?)\n");
  EXPECT_EQ(bad.problems[3], d + "null.yaml: error: cannot read file: not a regular file (a character device)\n");
  EXPECT_EQ(bad.problems[4], d + "pipe.yaml: error: cannot read file: not a regular file (a FIFO)\n");
  ASSERT_EQ(bad.flows.size(), 1u);
  EXPECT_EQ(bad.flows[0]->name, "a");
  catalog.Commit();
  auto again = catalog.Reload();  // nothing new to say
  EXPECT_FALSE(again.changed);
  EXPECT_TRUE(again.problems.empty());

  // A served file that becomes a loop keeps its flow.
  fs::remove(dir_ / "a.yaml");
  fs::create_symlink(dir_ / "a.yaml", dir_ / "a.yaml");
  auto looped = catalog.Reload();
  ASSERT_EQ(looped.problems.size(), 1u);
  EXPECT_NE(looped.problems[0].find("a.yaml: error: cannot read file: Too many levels of symbolic links"),
            std::string::npos);
  ASSERT_EQ(looped.flows.size(), 1u);
  EXPECT_EQ(looped.flows[0]->name, "a");
}

TEST_F(FlowCatalogFiles, EndpointClashesAreNamedLikeServeRefusesThem) {
  std::ofstream(dir_ / "a.yaml") << FlowAt("a", "/chat");
  std::ofstream(dir_ / "b.yaml") << FlowAt("b", "/chat");
  std::ofstream(dir_ / "c.yaml") << FlowAt("c", "/other");
  std::ofstream(dir_ / "d.yaml") << FlowAt("d", "/chat");
  FlowCatalog catalog({dir_.string()}, registry_, testing::FakeEnvironment(std::make_shared<testing::FakeLlmClient>()));
  auto loaded = catalog.Reload();
  ASSERT_EQ(loaded.flows.size(), 4u);
  const std::string d = dir_.string() + "/";
  EXPECT_EQ(EndpointClashes(loaded.flows),
            (std::vector<std::string>{
                "flows 'a' (" + d + "a.yaml) and 'b' (" + d + "b.yaml) both use endpoint /chat",
                "flows 'a' (" + d + "a.yaml) and 'd' (" + d + "d.yaml) both use endpoint /chat"}));
  EXPECT_TRUE(EndpointClashes({loaded.flows[0], loaded.flows[2]}).empty());
}

TEST(FlowCatalog, ANewVersionWhoseCallGoesNowhereIsRefusedAndWarningsAreReported) {
  const fs::path dir = fs::temp_directory_path() / ("flowrun-catalog-calls-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string caller = "version: 1\nname: a\nsteps:\n  - {id: sum, type: call, flow: %s, output: s}\n";
  auto calling = [&](const std::string& name) {
    std::string text = caller;
    return text.replace(text.find("%s"), 2, name);
  };
  std::ofstream(dir / "a.yaml") << calling("b");
  std::ofstream(dir / "b.yaml") << Flow("b");
  StepRegistry registry = testing::BuiltinRegistry();
  FlowCatalog catalog({dir.string()}, registry, testing::FakeEnvironment(std::make_shared<testing::FakeLlmClient>()));
  auto first = catalog.Reload();
  EXPECT_TRUE(first.problems.empty());
  EXPECT_TRUE(first.warnings.empty());
  ASSERT_EQ(first.flows.size(), 2u);
  catalog.Commit();
  const auto served_a = first.flows[0];

  std::ofstream(dir / "a.yaml", std::ios::trunc) << calling("bb");
  auto broken = catalog.Reload();
  ASSERT_EQ(broken.problems.size(), 1u);
  EXPECT_EQ(broken.problems[0], (dir / "a.yaml").string() +
                                    ":4:33: error: call 'sum': no flow named 'bb' is loaded beside this one; did you "
                                    "mean 'b'?\n"
                                    "      - {id: sum, type: call, flow: bb, output: s}\n"
                                    "                                    ^~\n");
  ASSERT_EQ(broken.flows.size(), 2u);
  EXPECT_EQ(broken.flows[0], served_a) << "the previous version of a keeps serving";
  EXPECT_TRUE(broken.reloaded.empty());
  catalog.Commit();

  // A flow with only warnings is applied, its warnings reported.
  std::ofstream(dir / "a.yaml", std::ios::trunc)
      << "version: 1\nname: a\nsteps:\n  - {type: fail, message: stop}\n  - {type: append-reply}\n";
  auto warned = catalog.Reload();
  EXPECT_TRUE(warned.problems.empty());
  ASSERT_EQ(warned.warnings.size(), 1u);
  EXPECT_NE(warned.warnings[0].find("warning: step 'step2' can never run: step 'step1' before it always fails"),
            std::string::npos)
      << warned.warnings[0];
  ASSERT_EQ(warned.flows.size(), 2u);
  EXPECT_NE(warned.flows[0], served_a);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace flowrun
