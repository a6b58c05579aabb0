// `flowrun serve` with few file descriptors (a hard RLIMIT_NOFILE set with
// prlimit, since serve raises its soft limit to the hard one): it refuses to
// start when its upstream loops cannot.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "fakes/subprocess.h"

namespace flowrun {
namespace {

constexpr const char* kPrlimit = "/usr/bin/prlimit";

std::vector<std::string> ServeWithLimit(int limit, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kPrlimit, "--nofile=" + std::to_string(limit) + ":" + std::to_string(limit),
                                   FLOWRUN_BINARY, "serve"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Descriptors this test inherited (from ctest, say) must not reach serve,
// whose descriptor count the tests rely on.
void KeepInheritedDescriptorsFromChildren() {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    if (fd > 2) fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  }
}

TEST(ServeDescriptors, DoesNotStartWhenItsUpstreamLoopCannotStart) {
  if (access(kPrlimit, X_OK) != 0) GTEST_SKIP() << "prlimit (util-linux) is not installed";
  KeepInheritedDescriptorsFromChildren();
  // 0-2 are stdio: one descriptor is left, not enough for the loop's epoll sets.
  const testing::ProcessResult result = testing::RunProcess(
      ServeWithLimit(4, {std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml", "--port", "0", "--io-threads", "1"}),
      {{"OPENAI_API_KEY", std::nullopt}, {"OPENAI_BASE_URL", std::nullopt}});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "flowrun serve: error: cannot start upstream event loop 1 of 1: epoll_create1: Too many open files\n");
  EXPECT_EQ(result.out.find("listening on"), std::string::npos);
}

}  // namespace
}  // namespace flowrun
