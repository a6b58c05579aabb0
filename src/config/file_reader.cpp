// Flow-file reading with stat() before open() and a bounded read.
#include "config/file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "config/flow_file_limits.h"

namespace flowrun {
namespace {

std::string KindOf(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  return "a special file";
}

// Why stat() or open() failed: the system's words, with a hint for links.
std::string Reason(const std::string& path, int error) {
  std::string reason = std::strerror(error);
  if (error == ELOOP) return reason + " (a symbolic link loop?)";
  struct stat link {};
  if (error == ENOENT && lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
    return reason + " (a symbolic link to a missing file)";
  }
  return reason;
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::optional<std::string> ReadTextFile(const std::string& path, Diagnostics& diagnostics) {
  auto refuse = [&](const std::string& why) -> std::optional<std::string> {
    diagnostics.Error({}, "cannot read file: " + why);
    return std::nullopt;
  };
  auto too_large = [&](unsigned long long size) -> std::optional<std::string> {
    diagnostics.Error({}, FileTooLargeMessage(size));
    return std::nullopt;
  };
  // Looked at before opening: opening a FIFO blocks until a writer comes,
  // and opening some devices has effects of its own.
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return refuse(Reason(path, errno));
  if (!S_ISREG(info.st_mode)) return refuse("not a regular file (" + KindOf(info.st_mode) + ")");
  if (static_cast<unsigned long long>(info.st_size) > kMaxFlowFileBytes) return too_large(info.st_size);

  // O_NONBLOCK: should the file have been replaced by a FIFO since stat().
  FileDescriptor file(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (file.get() < 0) return refuse(Reason(path, errno));
  if (fstat(file.get(), &info) != 0) return refuse(std::strerror(errno));
  if (!S_ISREG(info.st_mode)) return refuse("not a regular file (" + KindOf(info.st_mode) + ")");

  // One byte more than the limit tells a file that grew since fstat().
  std::string text;
  char buffer[64 * 1024];
  while (text.size() <= kMaxFlowFileBytes) {
    const size_t want = std::min(sizeof(buffer), kMaxFlowFileBytes + 1 - text.size());
    const ssize_t count = read(file.get(), buffer, want);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return refuse(std::strerror(errno));
    if (count == 0) break;
    text.append(buffer, static_cast<size_t>(count));
  }
  if (text.size() > kMaxFlowFileBytes) {
    if (fstat(file.get(), &info) != 0) info.st_size = 0;
    return too_large(std::max<unsigned long long>(text.size(), info.st_size));
  }
  return text;
}

}  // namespace flowrun
