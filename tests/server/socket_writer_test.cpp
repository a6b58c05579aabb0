// SocketWriter, a worker's writes: it gives up on a client that takes
// nothing for the write timeout, and waits for one that reads slowly but
// steadily. (The run loop's writer: loop_socket_writer_test.cpp.)
#include "server/socket_writer.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fakes/small_socket_pair.h"

namespace flowrun {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

using testing::Pattern;

TEST(SocketWriterTest, AWorkerGivesUpOnAClientThatStopsReading) {
  testing::SmallSocketPair pair;
  ASSERT_TRUE(pair.ok());
  SocketWriter writer(pair.fds[0], milliseconds(100));
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
  SocketWriter writer(server_, milliseconds(500));
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
