// ReadTextFile: every kind of file that is not a plain readable file is a
// diagnostic, at once (a FIFO never blocks), and nothing over the size limit
// is read.
#include "config/file_reader.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>

#include "config/flow_file_limits.h"

namespace flowrun {
namespace {

namespace fs = std::filesystem;

class FileReader : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("flowrun-reader-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // The diagnostics ReadTextFile gives for `path` ("" when it reads it).
  static std::string Problems(const std::string& path) {
    Diagnostics diagnostics(path);
    auto text = ReadTextFile(path, diagnostics);
    EXPECT_EQ(text.has_value(), diagnostics.empty());
    return diagnostics.ToString();
  }

  fs::path dir_;
};

TEST_F(FileReader, ReadsAFileUpToTheSizeLimit) {
  std::ofstream(Path("ok.yaml")) << std::string(kMaxFlowFileBytes, 'x');
  Diagnostics diagnostics("ok.yaml");
  auto text = ReadTextFile(Path("ok.yaml"), diagnostics);
  ASSERT_TRUE(text) << diagnostics.ToString();
  EXPECT_EQ(text->size(), kMaxFlowFileBytes);

  std::ofstream(Path("big.yaml")) << std::string(5 << 20, 'x');
  EXPECT_EQ(Problems(Path("big.yaml")),
            Path("big.yaml") +
                ": error: the file is 5242880 bytes, more than 1048576 bytes (the limit for a flow file)\n");
}

TEST_F(FileReader, AFifoIsRefusedWithoutBlocking) {
  ASSERT_EQ(mkfifo(Path("pipe.yaml").c_str(), 0644), 0);
  auto problems = std::async(std::launch::async, [&] { return Problems(Path("pipe.yaml")); });
  if (problems.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    // Let the blocked reader go (a writer opens), then fail.
    int writer = open(Path("pipe.yaml").c_str(), O_WRONLY | O_NONBLOCK);
    if (writer >= 0) close(writer);
    FAIL() << "ReadTextFile blocked on a FIFO for 5 s";
  }
  EXPECT_EQ(problems.get(), Path("pipe.yaml") + ": error: cannot read file: not a regular file (a FIFO)\n");
}

TEST_F(FileReader, DevicesSocketsAndDirectoriesAreRefused) {
  EXPECT_EQ(Problems("/dev/null"), "/dev/null: error: cannot read file: not a regular file (a character device)\n");
  fs::create_symlink("/dev/zero", Path("zero.yaml"));
  EXPECT_EQ(Problems(Path("zero.yaml")),
            Path("zero.yaml") + ": error: cannot read file: not a regular file (a character device)\n");
  fs::create_directory(Path("dir.yaml"));
  EXPECT_EQ(Problems(Path("dir.yaml")),
            Path("dir.yaml") + ": error: cannot read file: not a regular file (a directory)\n");

  const int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string socket_path = Path("sock.yaml");
  ASSERT_LT(socket_path.size(), sizeof(address.sun_path));
  socket_path.copy(address.sun_path, socket_path.size());
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(Problems(socket_path), socket_path + ": error: cannot read file: not a regular file (a socket)\n");
  close(listener);
}

TEST_F(FileReader, SymbolicLinkLoopsAndDanglingLinks) {
  fs::create_symlink(Path("b.yaml"), Path("a.yaml"));
  fs::create_symlink(Path("a.yaml"), Path("b.yaml"));
  EXPECT_EQ(Problems(Path("a.yaml")), Path("a.yaml") +
                                          ": error: cannot read file: Too many levels of symbolic links "
                                          "(a symbolic link loop?)\n");
  fs::create_symlink(Path("missing.yaml"), Path("dangling.yaml"));
  EXPECT_EQ(Problems(Path("dangling.yaml")),
            Path("dangling.yaml") + ": error: cannot read file: No such file or directory "
                                    "(a symbolic link to a missing file)\n");
  EXPECT_EQ(Problems(Path("missing.yaml")),
            Path("missing.yaml") + ": error: cannot read file: No such file or directory\n");
}

// chmod 000 stops everyone but root; as root the read runs in a child that
// has given up root first (uid and gid 65534, "nobody").
TEST_F(FileReader, AFileWithoutReadPermission) {
  const std::string path = Path("secret.yaml");
  std::ofstream(path) << "version: 1\n";
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  const std::string expected = path + ": error: cannot read file: Permission denied\n";
  if (geteuid() != 0) {
    EXPECT_EQ(Problems(path), expected);
    return;
  }
  // The directory must let "nobody" reach the file.
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::others_exec | fs::perms::group_exec);
  int result_pipe[2];
  ASSERT_EQ(pipe(result_pipe), 0);
  const pid_t child = fork();
  if (child == 0) {
    close(result_pipe[0]);
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
    Diagnostics diagnostics(path);
    const bool read = ReadTextFile(path, diagnostics).has_value();
    const std::string text = diagnostics.ToString();
    (void)!write(result_pipe[1], text.data(), text.size());
    _exit(read ? 1 : 0);
  }
  close(result_pipe[1]);
  std::string text;
  char buffer[512];
  for (ssize_t count; (count = read(result_pipe[0], buffer, sizeof(buffer))) > 0;) text.append(buffer, count);
  close(result_pipe[0]);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 3) GTEST_SKIP() << "running as root and cannot switch to uid 65534";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the unprivileged child could read a chmod 000 file";
  EXPECT_EQ(text, expected);
}

}  // namespace
}  // namespace flowrun
