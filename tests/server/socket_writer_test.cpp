// SocketWriter on a socketpair with a small send buffer: an event-loop
// thread never waits and loses nothing; a client that falls too far behind
// or takes nothing for the write timeout is gone; a worker's write sends
// what the loop kept first.
#include "server/socket_writer.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/event_loop_thread.h"

namespace flowrun {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::string Pattern(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
  return data;
}

class SocketWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
    int small = 4096;
    setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(fds_[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  }
  void TearDown() override {
    if (fds_[0] >= 0) close(fds_[0]);
    if (fds_[1] >= 0) close(fds_[1]);
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

  // Runs `body` on a thread marked as an event loop.
  static void OnLoop(const std::function<void()>& body) {
    std::thread loop([&] {
      MarkEventLoopThread();
      body();
    });
    loop.join();
  }

  int fds_[2] = {-1, -1};
};

TEST_F(SocketWriterTest, OnAnEventLoopWritesNeverWaitAndNothingIsLost) {
  SocketWriter writer(fds_[0], milliseconds(5000), 1024 * 1024);
  const std::string data = Pattern(256 * 1024);
  OnLoop([&] {
    const auto start = Clock::now();
    for (size_t at = 0; at < data.size(); at += 1024) ASSERT_TRUE(writer.Write(data.data() + at, 1024));
    // Nobody reads: a waiting write would have sat out the 5 s timeout.
    EXPECT_LT(Clock::now() - start, milliseconds(1000));
    EXPECT_GT(writer.buffered(), 128u * 1024);
  });
  std::string received;
  std::thread reader([&] { received = ReadAll(data.size()); });
  OnLoop([&] {
    while (writer.buffered() > 0) {
      ASSERT_TRUE(writer.SendBuffered());
      std::this_thread::sleep_for(milliseconds(1));
    }
  });
  reader.join();
  EXPECT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data) << "bytes arrived altered or out of order";
}

TEST_F(SocketWriterTest, AClientTooFarBehindIsGone) {
  SocketWriter writer(fds_[0], milliseconds(5000), 64 * 1024);
  const std::string block = Pattern(1024);
  OnLoop([&] {
    bool ok = true;
    size_t written = 0;
    while (ok && written < 1024 * 1024) {
      ok = writer.Write(block.data(), block.size());
      written += block.size();
    }
    EXPECT_FALSE(ok) << "1 MiB was kept for a client that reads nothing";
    EXPECT_LE(writer.buffered(), 64u * 1024 + block.size());
  });
}

TEST_F(SocketWriterTest, AClientThatTakesNothingForTheWriteTimeoutIsGone) {
  SocketWriter writer(fds_[0], milliseconds(100), 1024 * 1024);
  const std::string data = Pattern(64 * 1024);
  OnLoop([&] {
    ASSERT_TRUE(writer.Write(data.data(), data.size()));
    ASSERT_GT(writer.buffered(), 0u);
    EXPECT_TRUE(writer.SendBuffered());  // still within the timeout
    std::this_thread::sleep_for(milliseconds(150));
    EXPECT_FALSE(writer.SendBuffered());
  });
}

TEST_F(SocketWriterTest, AWorkersWriteSendsWhatTheLoopKeptFirst) {
  SocketWriter writer(fds_[0], milliseconds(5000), 1024 * 1024);
  const std::string kept = Pattern(128 * 1024);
  OnLoop([&] { ASSERT_TRUE(writer.Write(kept.data(), kept.size())); });
  ASSERT_GT(writer.buffered(), 0u);
  std::string received;
  std::thread reader([&] { received = ReadAll(kept.size() + 3); });
  // This thread is a worker: it waits for the reader.
  EXPECT_TRUE(writer.Write("END", 3));
  EXPECT_EQ(writer.buffered(), 0u);
  reader.join();
  EXPECT_TRUE(received == kept + "END");
}

TEST_F(SocketWriterTest, AWorkerGivesUpOnAClientThatStopsReading) {
  SocketWriter writer(fds_[0], milliseconds(100), 1024 * 1024);
  const std::string data = Pattern(256 * 1024);
  const auto start = Clock::now();
  EXPECT_FALSE(writer.Write(data.data(), data.size()));
  EXPECT_GE(Clock::now() - start, milliseconds(100));
}


// A TCP connection on loopback: the kernel reports POLLOUT only once a third
// of the send buffer is free, so a reader slower than that per write timeout
// must still count as reading (it takes bytes all the time).
class TcpSocketWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    socklen_t length = sizeof(address);
    ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
    ASSERT_EQ(listen(listener, 1), 0);
    client_ = socket(AF_INET, SOCK_STREAM, 0);
    int receive = 16 * 1024;
    setsockopt(client_, SOL_SOCKET, SO_RCVBUF, &receive, sizeof(receive));
    ASSERT_EQ(connect(client_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    server_ = accept(listener, nullptr, nullptr);
    close(listener);
    ASSERT_GE(server_, 0);
    int send_buffer = 128 * 1024;  // the kernel doubles it; fixed, no autotuning
    setsockopt(server_, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof(send_buffer));
  }
  void TearDown() override {
    if (server_ >= 0) close(server_);
    if (client_ >= 0) close(client_);
  }
  // Reads `chunk` bytes every `every` until `bytes` arrived or the writer closed.
  std::string ReadSlowly(size_t bytes, size_t chunk, milliseconds every) {
    std::string received;
    std::vector<char> buffer(chunk);
    auto next = Clock::now();
    while (received.size() < bytes) {
      const ssize_t count = recv(client_, buffer.data(), buffer.size(), 0);
      if (count <= 0) break;
      received.append(buffer.data(), static_cast<size_t>(count));
      next += every;
      std::this_thread::sleep_until(next);
    }
    return received;
  }

  int server_ = -1;
  int client_ = -1;
};

TEST_F(TcpSocketWriterTest, AWorkerWaitsForAClientThatReadsSlowlyButSteadily) {
  // 100 KB/s: freeing a third of the 256 KiB send buffer takes ~850 ms,
  // longer than the write timeout; yet the client takes bytes every 40 ms.
  SocketWriter writer(server_, milliseconds(500), 1024 * 1024);
  const std::string data = Pattern(512 * 1024);
  std::string received;
  std::thread reader([&] { received = ReadSlowly(data.size(), 4096, milliseconds(40)); });
  const bool written = writer.Write(data.data(), data.size());
  shutdown(server_, SHUT_WR);
  reader.join();
  EXPECT_TRUE(written) << "a client that kept reading was given up on";
  EXPECT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data) << "bytes arrived altered or out of order";
}

}  // namespace
}  // namespace flowrun
