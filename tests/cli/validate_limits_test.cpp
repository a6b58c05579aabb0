// `flowrun validate` on hostile flow files: an alias bomb, deep nesting, a
// huge flow, too many steps, links that loop or lead nowhere, FIFOs and
// devices, and two flows on one endpoint. Each is an exact diagnostic, exit
// 1, quickly and in bounded memory (the child is killed, and the test fails,
// should it run away).
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fakes/sanitizers.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

namespace fs = std::filesystem;

const std::string kBinary = FLOWRUN_BINARY;
const testing::ProcessLimits kLimits{std::chrono::seconds(15), 2 * 1024 * 1024};
// Peak resident memory allowed for validating one hostile file (it idles
// near 14 MiB; the bomb took 24 GB before the limits).
constexpr long kMaxRssKib = 100 * 1024;

std::string Repeat(const std::string& text, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) out += text;
  return out;
}

std::string Caret(int column, int length = 1) {
  return std::string(4 + column - 1, ' ') + "^" + std::string(length - 1, '~') + "\n";
}

class ValidateLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("flowrun-validate-limits-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  // Runs `flowrun validate args...`, checking it ended by itself, quickly,
  // in bounded memory.
  static testing::ProcessResult Validate(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kBinary, "validate"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto result = testing::RunProcessWithLimits(argv, kLimits);
    EXPECT_EQ(result.killed, "") << "flowrun validate was killed";
#if FLOWRUN_MEASURES_RSS
    // Under a sanitizer the shadow memory makes RSS meaningless.
    EXPECT_LT(result.max_rss_kib, kMaxRssKib) << "peak RSS of flowrun validate";
#endif
    return result;
  }

  fs::path dir_;
};

TEST_F(ValidateLimits, AliasBomb) {
  std::string bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n";
  for (char name = 'b'; name <= 'i'; ++name) {
    const std::string previous = std::string("*") + static_cast<char>(name - 1);
    bomb += std::string(1, name) + ": &" + name + " [" + Repeat(previous + ",", 8) + previous + "]\n";
  }
  ASSERT_LT(bomb.size(), 900u);
  const std::string path = Write("bomb.yaml", bomb);
  auto result = Validate({path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err,
            path + ":6:8: error: YAML aliases expand to more than 100000 nodes (the limit for a flow file)\n"
                   "    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n" + Caret(8, 2));
}

TEST_F(ValidateLimits, DeepNesting) {
  const std::string deep = Repeat("[", 100000);
  const std::string path = Write("deep.yaml", deep);
  auto result = Validate({path});
  EXPECT_EQ(result.exit_code, 1);
  // Unclosed, each '[' after the first reads as the key of an implicit
  // mapping: two levels per bracket, so the 33rd passes 64.
  // The megabyte line is shown as its first 160 bytes (a window around column 33).
  EXPECT_EQ(result.err, path + ":1:33: error: YAML nesting is deeper than 64 levels (the limit for a flow file)\n"
                               "    " + deep.substr(0, 160) + "...\n" + Caret(33));
}

TEST_F(ValidateLimits, HugeFlowIsRefusedBeforeParsing) {
  std::string huge = "version: 1\nname: huge\nsteps:\n";
  for (int i = 0; i < 100000; ++i) {
    huge += "  - id: step-number-" + std::to_string(i) + "-of-a-huge-flow\n    type: append-reply\n";
  }
  ASSERT_GT(huge.size(), 5u << 20);
  const std::string path = Write("huge.yaml", huge);
  auto result = Validate({path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, path + ": error: the file is " + std::to_string(huge.size()) +
                            " bytes, more than 1048576 bytes (the limit for a flow file)\n");
}

TEST_F(ValidateLimits, TooManySteps) {
  const std::string path =
      Write("many.yaml", "version: 1\nname: many\nsteps:\n" + Repeat("  - type: append-reply\n", 5000));
  auto result = Validate({path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, path + ":4:3: error: the flow has 5000 steps, more than 1000 (the limit for a flow file)\n"
                               "      - type: append-reply\n" + Caret(3));
}

TEST_F(ValidateLimits, BadFileKindsInADirectoryAreReportedAndTheRestIsChecked) {
  const std::string ok = Write("ok.yaml", "version: 1\nname: ok\nsteps:\n  - {type: append-message, content: hi}\n");
  fs::create_symlink(dir_ / "loop2.yaml", dir_ / "loop1.yaml");
  fs::create_symlink(dir_ / "loop1.yaml", dir_ / "loop2.yaml");
  fs::create_symlink(dir_ / "gone.yaml", dir_ / "dangling.yaml");
  fs::create_symlink("/dev/null", dir_ / "device.yaml");
  ASSERT_EQ(mkfifo((dir_ / "pipe.yaml").c_str(), 0644), 0);
  auto result = Validate({dir_.string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, ok + ": ok (flow 'ok', POST /flows/ok, 1 steps)\n");
  const std::string d = dir_.string() + "/";
  EXPECT_EQ(result.err,
            d + "dangling.yaml: error: cannot read file: No such file or directory "
                "(a symbolic link to a missing file)\n" +
            d + "device.yaml: error: cannot read file: not a regular file (a character device)\n" +
            d + "loop1.yaml: error: cannot read file: Too many levels of symbolic links (a symbolic link loop?)\n" +
            d + "loop2.yaml: error: cannot read file: Too many levels of symbolic links (a symbolic link loop?)\n" +
            d + "pipe.yaml: error: cannot read file: not a regular file (a FIFO)\n");
}

TEST_F(ValidateLimits, PathsThatAreNotFlowFiles) {
  ASSERT_EQ(mkfifo((dir_ / "pipe.yaml").c_str(), 0644), 0);
  fs::create_symlink(dir_ / "self.yaml", dir_ / "self.yaml");
  const std::string pipe = (dir_ / "pipe.yaml").string(), self = (dir_ / "self.yaml").string();
  auto result = Validate({pipe, self, "/dev/null"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, pipe + ": error: cannot read file: not a regular file (a FIFO)\n" + self +
                            ": error: cannot read file: Too many levels of symbolic links (a symbolic link loop?)\n"
                            "/dev/null: error: cannot read file: not a regular file (a character device)\n");
}

// validate says what serve would refuse, in the same words.
TEST_F(ValidateLimits, TwoFlowsOnOneEndpoint) {
  const std::string a = Write("a.yaml", "version: 1\nname: a\nendpoint: /chat\nsteps:\n  - {type: append-message, content: hi}\n");
  const std::string b = Write("b.yaml", "version: 1\nname: b\nendpoint: /chat\nsteps:\n  - {type: append-message, content: hi}\n");
  const std::string clash = "flows 'a' (" + a + ") and 'b' (" + b + ") both use endpoint /chat\n";
  auto result = Validate({dir_.string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, a + ": ok (flow 'a', POST /chat, 1 steps)\n" + b + ": ok (flow 'b', POST /chat, 1 steps)\n");
  EXPECT_EQ(result.err, "flowrun validate: error: " + clash);
  // A file named twice is one flow, as in serve.
  auto twice = Validate({a, a});
  EXPECT_EQ(twice.exit_code, 0) << twice.err;

  auto serve = testing::RunProcessWithLimits({kBinary, "serve", dir_.string(), "--port", "0"}, kLimits,
                                             {{"OPENAI_API_KEY", std::nullopt}, {"OPENAI_BASE_URL", std::nullopt}});
  EXPECT_EQ(serve.exit_code, 1);
  EXPECT_EQ(serve.err, "flowrun serve: error: " + clash);
}

}  // namespace
}  // namespace flowrun
