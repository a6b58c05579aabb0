// Slow clients over real sockets: one that stops reading is dropped after
// --write-timeout (its upstream transfer aborted, the stream never buffered
// in memory); one that keeps reading, however slowly, gets every byte.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "fakes/fake_openai_upstream.h"
#include "fakes/raw_http_client.h"
#include "fakes/sanitizers.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using Clock = std::chrono::steady_clock;

// A burst of deltas of the given sizes, numbered so that order and
// completeness show in the text; returns the text they make.
std::string SetDeltas(testing::FakeOpenAiUpstream& upstream, const std::vector<size_t>& sizes) {
  std::vector<std::string> pieces;
  std::string expected;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string delta = "<" + std::to_string(i) + ">" + std::string(sizes[i], static_cast<char>('a' + i % 26));
    pieces.push_back(testing::OpenAiDeltaEvent(delta));
    expected += delta;
  }
  pieces.push_back(testing::OpenAiFinishEvent());
  pieces.push_back(testing::kOpenAiDoneEvent);
  upstream.SetStream(pieces);
  return expected;
}

// `count` deltas of `size` bytes each.
std::string SetBurst(testing::FakeOpenAiUpstream& upstream, int count, size_t size) {
  return SetDeltas(upstream, std::vector<size_t>(static_cast<size_t>(count), size));
}

std::string ChatRequest() {
  const std::string body = R"({"message":"hi"})";
  return "POST /chat HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Sends a chat request on a socket with a small receive buffer, reads the
// first bytes, calls `while_lagging` without reading, then reads to the end.
// Returns everything received (-1 socket: empty).
std::string LaggingChat(int port, const std::function<void()>& while_lagging) {
  int fd = testing::ConnectTo(port, /*receive_buffer_bytes=*/4096);
  if (fd < 0) return "";
  const std::string request = ChatRequest();
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string received;
  char buffer[65536];
  ssize_t count = recv(fd, buffer, sizeof(buffer), 0);
  if (count > 0) received.append(buffer, static_cast<size_t>(count));
  while_lagging();
  while ((count = recv(fd, buffer, sizeof(buffer), 0)) > 0) received.append(buffer, static_cast<size_t>(count));
  close(fd);
  return received;
}

// The chunk text of a raw chunked SSE response, and its last event's name.
std::string ChunkText(const std::string& received, std::string* last_event) {
  const size_t head_end = received.find("\r\n\r\n");
  if (head_end == std::string::npos) return "";
  std::string text;
  for (const auto& event : testing::ParseSse(testing::Dechunk(received.substr(head_end + 4)))) {
    *last_event = event.count("event") != 0 ? event.at("event") : "";
    if (*last_event != "chunk") continue;
    // A stream cut mid-event may end in a partial data line.
    const auto data = nlohmann::json::parse(event.count("data") != 0 ? event.at("data") : "", nullptr, false);
    if (!data.is_string()) break;
    text += data.get<std::string>();
  }
  return text;
}

// Reads a chat stream at most `per_tick` bytes every `tick` (a steady, slow
// reader) while `keep_reading(received so far)` says so, then stops reading
// but keeps the socket open while `keep_holding()` says so; until the server
// closes the connection or `deadline` passes.
std::string PacedChat(int port, size_t per_tick, std::chrono::milliseconds tick, Clock::time_point deadline,
                      const std::function<bool(const std::string&)>& keep_reading,
                      const std::function<bool()>& keep_holding = [] { return false; }) {
  int fd = testing::ConnectTo(port);
  if (fd < 0) return "";
  const std::string request = ChatRequest();
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string received;
  std::vector<char> buffer(per_tick);
  Clock::time_point next = Clock::now();
  bool open = true;
  while (open && Clock::now() < deadline) {
    for (size_t this_tick = 0; this_tick < per_tick;) {
      const ssize_t count = recv(fd, buffer.data(), per_tick - this_tick, MSG_DONTWAIT);
      if (count < 0 && (errno == EAGAIN || errno == EINTR)) break;
      if (count <= 0) {
        open = false;  // the server closed (or reset) the connection
        break;
      }
      received.append(buffer.data(), static_cast<size_t>(count));
      this_tick += static_cast<size_t>(count);
    }
    if (open && !keep_reading(received)) break;
    next += tick;
    std::this_thread::sleep_until(next);
  }
  while (open && Clock::now() < deadline && keep_holding()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  close(fd);
  return received;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The chat flow with a reply cap above llm-stream's default max_reply_bytes
// (4 MiB), for answers of many MiB.
std::string BigReplyFlow() {
  return testing::WriteTempFile(
      "chat.yaml", "version: 1\nname: chat\nendpoint: /chat\ninput:\n  message: string\nsteps:\n"
                   "  - type: append-message\n    content: \"{{ input.message }}\"\n"
                   "  - id: reply\n    type: llm-stream\n    max_reply_bytes: 67108864\n");
}

TEST(ServeSlowReader, IsDroppedAfterTheWriteTimeoutWithBoundedMemory) {
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  // 48 MiB of answer: far more than the socket buffers between us hold.
  const std::string delta(64 * 1024, 'x');
  std::vector<std::string> pieces(768, testing::OpenAiDeltaEvent(delta));
  pieces.push_back(testing::OpenAiFinishEvent());
  pieces.push_back(testing::kOpenAiDoneEvent);
  upstream.SetStream(pieces);
  testing::ServeProcess server({std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml", "--write-timeout", "1"},
                               {{"OPENAI_BASE_URL", upstream.base_url()}, {"OPENAI_API_KEY", std::nullopt}});
  ASSERT_GT(server.port(), 0);
  const long rss_before = testing::ReadProcessUsage(server.pid()).rss_kib;

  int fd = testing::ConnectTo(server.port());
  ASSERT_GE(fd, 0);
  const std::string body = R"({"message":"hi"})";
  const std::string request = "POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  char buffer[4096];
  ASSERT_GT(recv(fd, buffer, sizeof(buffer), 0), 0);  // the stream has started; now stop reading

  // The stream must end (slot freed) while our socket is still open.
  long peak_rss = 0;
  bool ended = false;
  for (int i = 0; i < 100 * testing::kSlowdown && !ended; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    peak_rss = std::max(peak_rss, testing::ReadProcessUsage(server.pid()).rss_kib);
    auto health = testing::RawRequest(server.port(), "GET", "/healthz");
    ended = health.status == 200 && nlohmann::json::parse(health.body)["streams"] == 0;
  }
  EXPECT_TRUE(ended) << "the stream to a client that stopped reading is still open after " << 5 * testing::kSlowdown
                     << " s";
  for (int i = 0; i < 200 && !upstream.client_gone_at(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(upstream.client_gone_at()) << "the upstream transfer was not aborted";
  std::cout << "RSS before " << rss_before << " KiB, peak while stalled " << peak_rss << " KiB\n";
#if FLOWRUN_MEASURES_RSS
  EXPECT_LT(peak_rss - rss_before, 16 * 1024);  // nowhere near the 48 MiB answer
#endif
  close(fd);
}

// Streams are written from the upstream event loop, which never waits for a
// socket (socket_writer_test.cpp covers what it keeps). End to end: a client
// with a small receive buffer that pauses (shorter than the write timeout)
// while a burst arrives still gets every byte, in order, and the stream's end.
TEST(ServeSlowReader, AClientThatPausesGetsTheWholeBurst) {
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  // ~600 KiB: far more than the small socket buffers hold.
  const std::string expected = SetBurst(upstream, 300, 2000);
  testing::ServeProcess server({BigReplyFlow(), "--write-timeout", "5"},
                               {{"OPENAI_BASE_URL", upstream.base_url()}, {"OPENAI_API_KEY", std::nullopt}});
  ASSERT_GT(server.port(), 0);
  const std::string received = LaggingChat(server.port(), [] {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));  // the burst arrives meanwhile
  });
  ASSERT_EQ(received.substr(0, 15), "HTTP/1.1 200 OK");
  std::string last_event;
  const std::string text = ChunkText(received, &last_event);
  EXPECT_EQ(text.size(), expected.size());
  EXPECT_TRUE(text == expected) << "the text arrived altered or out of order";
  EXPECT_EQ(last_event, "done");
}

// Flow control: a burst far larger than the socket buffers plus what
// flowrun may keep for a client (256 KiB) reaches a client that pauses, in
// full: while the client lags, flowrun stops reading the upstream (TCP
// holds the rest back there) instead of buffering it or dropping the client.
TEST(ServeSlowReader, ALaggingClientSlowsTheUpstreamInsteadOfLosingTheStream) {
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  const std::string expected = SetBurst(upstream, 256, 32 * 1024);  // 8 MiB
  testing::ServeProcess server({BigReplyFlow(), "--write-timeout", "5"},
                               {{"OPENAI_BASE_URL", upstream.base_url()}, {"OPENAI_API_KEY", std::nullopt}});
  ASSERT_GT(server.port(), 0);
  const long rss_before = testing::ReadProcessUsage(server.pid()).rss_kib;
  long peak_rss = 0;
  const std::string received = LaggingChat(server.port(), [&] {
    for (int i = 0; i < 10; ++i) {  // 1 s without reading
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      peak_rss = std::max(peak_rss, testing::ReadProcessUsage(server.pid()).rss_kib);
    }
  });
  std::string last_event;
  const std::string text = ChunkText(received, &last_event);
  EXPECT_EQ(text.size(), expected.size());
  EXPECT_TRUE(text == expected) << "the text arrived altered or out of order";
  EXPECT_EQ(last_event, "done");
  std::cout << "RSS before " << rss_before << " KiB, peak while the client lagged " << peak_rss << " KiB\n";
#if FLOWRUN_MEASURES_RSS
  EXPECT_LT(peak_rss - rss_before, 16 * 1024);  // not the 8 MiB answer
#endif
}

// A fast upstream and a client reading 50 KB every 100 ms (500 KB/s) for
// over 10 s: far longer than the write timeout, with the kernel's buffers
// full all the time, and deltas (up to 512 KiB) larger than flowrun may keep
// for a client. It gets the whole answer, in order, and the stream's end.
TEST(ServeSlowReader, AClientReadingSlowlyButSteadilyGetsTheWholeAnswer) {
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  std::vector<size_t> sizes;
  for (int i = 0; i < 10; ++i) {
    sizes.push_back(512 * 1024);
    sizes.insert(sizes.end(), 25, 4 * 1024);
  }
  const std::string expected = SetDeltas(upstream, sizes);  // 6 MiB
  const std::string log_path = testing::WriteTempFile("slow-reader.log", "");
  testing::ServeProcess server({BigReplyFlow(), "--write-timeout", "5"},
                               {{"OPENAI_BASE_URL", upstream.base_url()}, {"OPENAI_API_KEY", std::nullopt}}, log_path);
  ASSERT_GT(server.port(), 0);
  const Clock::time_point start = Clock::now();
  const std::string received = PacedChat(server.port(), 50 * 1000, std::chrono::milliseconds(100),
                                         start + std::chrono::seconds(90), [](const std::string&) { return true; });
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << received.size() << " bytes in " << seconds << " s\n";
  EXPECT_GT(seconds, 10) << "the reader was not slow: the test shows nothing";
  std::string last_event;
  const std::string text = ChunkText(received, &last_event);
  EXPECT_EQ(text.size(), expected.size());
  EXPECT_TRUE(text == expected) << "the text arrived altered or out of order";
  EXPECT_EQ(last_event, "done");
  EXPECT_EQ(ReadText(log_path).find("client stopped reading"), std::string::npos) << ReadText(log_path);
}

// Progress is what the client takes: one that reads slowly and then stops
// is still dropped once it has taken nothing for the write timeout. While it
// reads, flowrun holds back the upstream rather than the 48 MiB answer.
TEST(ServeSlowReader, AClientThatReadsSlowlyThenStopsIsDropped) {
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  SetBurst(upstream, 768, 64 * 1024);  // 48 MiB
  const std::string log_path = testing::WriteTempFile("stalled-reader.log", "");
  testing::ServeProcess server({BigReplyFlow(), "--write-timeout", "1"},
                               {{"OPENAI_BASE_URL", upstream.base_url()}, {"OPENAI_API_KEY", std::nullopt}}, log_path);
  ASSERT_GT(server.port(), 0);
  const long rss_before = testing::ReadProcessUsage(server.pid()).rss_kib;
  long peak_rss = 0;
  Clock::time_point stopped_at;
  bool ended = false;  // while the socket was still open
  const Clock::time_point start = Clock::now();
  PacedChat(
      server.port(), 50 * 1000, std::chrono::milliseconds(100), start + std::chrono::seconds(20),
      [&](const std::string&) {
        peak_rss = std::max(peak_rss, testing::ReadProcessUsage(server.pid()).rss_kib);
        if (Clock::now() - start < std::chrono::seconds(4)) return true;  // 4 s of steady reading first
        stopped_at = Clock::now();
        return false;
      },
      [&] {  // then the socket stays open, unread, until the stream has ended
        peak_rss = std::max(peak_rss, testing::ReadProcessUsage(server.pid()).rss_kib);
        auto health = testing::RawRequest(server.port(), "GET", "/healthz");
        ended = health.status == 200 && nlohmann::json::parse(health.body)["streams"] == 0;
        return !ended;
      });
  ASSERT_NE(stopped_at, Clock::time_point()) << "the server closed the stream while the client read";
  EXPECT_TRUE(ended) << "the stream to a client that stopped reading was still open after 18 s";
  const std::string log = ReadText(log_path);
  EXPECT_NE(log.find("stream ended: client stopped reading (write timed out)"), std::string::npos) << log;
  EXPECT_TRUE(upstream.client_gone_at()) << "the upstream transfer was not aborted";
  if (upstream.client_gone_at()) {
    const double after_stop = std::chrono::duration<double>(*upstream.client_gone_at() - stopped_at).count();
    std::cout << "upstream aborted " << after_stop << " s after the client stopped reading\n";
    EXPECT_GT(after_stop, 0.5) << "dropped before it had taken nothing for the write timeout";
    EXPECT_LT(after_stop, 7.0);
  }
  std::cout << "RSS before " << rss_before << " KiB, peak " << peak_rss << " KiB\n";
#if FLOWRUN_MEASURES_RSS
  // What was forwarded so far is also kept as the run's reply (the kernel's
  // buffers hold several MiB of it): a few MiB, nowhere near the answer.
  EXPECT_LT(peak_rss - rss_before, 24 * 1024);
#endif
}

}  // namespace
}  // namespace flowrun
