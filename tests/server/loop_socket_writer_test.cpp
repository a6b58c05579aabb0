// LoopSocketWriter on a socketpair with small buffers, driven by a real
// EventLoop on this thread: writes never wait and lose nothing (what the
// socket refuses is kept and sent when it becomes writable, with the
// FlowControl raised meanwhile); a body chunk is framed; a client too far
// behind, one that takes nothing for the write timeout, and one that hangs
// up are gone, and each cancels the run's scope.
#include "server/loop_socket_writer.h"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "core/event_loop.h"
#include "fakes/small_socket_pair.h"

namespace flowrun {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

using testing::Pattern;

class LoopSocketWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loop_.Init().ok());
    ASSERT_TRUE(pair_.ok());
  }

  // Runs the loop until `done()` holds (checked every 5 ms) or `deadline`
  // passes; false on the deadline.
  bool RunUntil(const std::function<bool()>& done, milliseconds deadline = milliseconds(10000)) {
    bool met = false;
    const auto until = Clock::now() + deadline;
    std::function<void()> check = [&] {
      if (done()) {
        met = true;
        loop_.Stop();
      } else if (Clock::now() >= until) {
        loop_.Stop();
      } else {
        loop_.After(milliseconds(5), check);
      }
    };
    loop_.Post(check);
    loop_.Run();
    return met;
  }

  // Reads until `bytes` arrived or the writer closed.
  std::string ReadAll(size_t bytes) {
    std::string received;
    char buffer[8192];
    while (received.size() < bytes) {
      const ssize_t count = recv(fds_[1], buffer, sizeof(buffer), 0);
      if (count <= 0) break;
      received.append(buffer, static_cast<size_t>(count));
    }
    return received;
  }

  EventLoop loop_;
  FlowControl flow_;
  CancelScope scope_;
  testing::SmallSocketPair pair_;
  int* fds_ = pair_.fds;
};

TEST_F(LoopSocketWriterTest, WritesNeverWaitAndWhatTheSocketRefusedIsSentInOrder) {
  LoopSocketWriter writer(loop_, fds_[0], {milliseconds(5000), 1024 * 1024}, flow_, scope_);
  const std::string data = Pattern(256 * 1024);
  const auto start = Clock::now();
  for (size_t at = 0; at < data.size(); at += 1024) {
    ASSERT_TRUE(writer.WriteRaw(std::string_view(data).substr(at, 1024)));
  }
  // Nobody reads yet: a waiting write would have sat out the 5 s timeout.
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
  EXPECT_TRUE(writer.Backlogged());
  EXPECT_TRUE(flow_.backlogged()) << "the producer was not told to pause";
  std::string received;
  std::thread reader([&] { received = ReadAll(data.size()); });
  const bool drained = RunUntil([&] { return !writer.Backlogged(); });
  reader.join();
  ASSERT_TRUE(drained) << "what was kept was never sent";
  EXPECT_FALSE(flow_.backlogged()) << "the producer was not resumed";
  EXPECT_FALSE(scope_.cancelled());
  EXPECT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data) << "bytes arrived altered or out of order";
}

TEST_F(LoopSocketWriterTest, ABodyChunkIsFramedAndAnEmptyOneSendsNothing) {
  LoopSocketWriter writer(loop_, fds_[0], {}, flow_, scope_);
  ASSERT_TRUE(writer.Write(""));
  ASSERT_TRUE(writer.Write("data: \"hi\"\n\n"));
  EXPECT_EQ(ReadAll(17), "c\r\ndata: \"hi\"\n\n\r\n");
}

TEST_F(LoopSocketWriterTest, AClientTooFarBehindIsGone) {
  LoopSocketWriter writer(loop_, fds_[0], {milliseconds(5000), 64 * 1024}, flow_, scope_);
  const std::string block = Pattern(1024);
  bool ok = true;
  size_t written = 0;
  while (ok && written < 1024 * 1024) {
    ok = writer.WriteRaw(block);
    written += block.size();
  }
  EXPECT_FALSE(ok) << "1 MiB was kept for a client that reads nothing";
  EXPECT_LE(written, 64u * 1024 + 64u * 1024) << "far more than max_buffered was accepted";
  EXPECT_EQ(writer.GoneReason(), "client stopped reading (write timed out)");
  EXPECT_TRUE(scope_.cancelled());
  EXPECT_FALSE(flow_.backlogged()) << "a producer would wait for ever on a gone client";
}

TEST_F(LoopSocketWriterTest, AClientThatTakesNothingForTheWriteTimeoutIsGone) {
  LoopSocketWriter writer(loop_, fds_[0], {milliseconds(100), 1024 * 1024}, flow_, scope_);
  ASSERT_TRUE(writer.WriteRaw(Pattern(64 * 1024)));
  ASSERT_TRUE(writer.Backlogged());
  const auto start = Clock::now();
  ASSERT_TRUE(RunUntil([&] { return writer.gone(); })) << "a client that reads nothing was kept";
  EXPECT_GE(Clock::now() - start, milliseconds(90));
  EXPECT_EQ(writer.GoneReason(), "client stopped reading (write timed out)");
  EXPECT_EQ(scope_.reason(), "client disconnected");
}

TEST_F(LoopSocketWriterTest, AHangUpCancelsTheRunWithoutAWrite) {
  LoopSocketWriter writer(loop_, fds_[0], {}, flow_, scope_);
  pair_.CloseClient();
  ASSERT_TRUE(RunUntil([&] { return scope_.cancelled(); }, milliseconds(5000))) << "the hang-up went unnoticed";
  EXPECT_EQ(scope_.reason(), "client disconnected");
  EXPECT_FALSE(writer.Write("late"));
}

}  // namespace
}  // namespace flowrun
