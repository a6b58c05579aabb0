// `flowrun serve` against hostile request framing, over raw sockets: request
// smuggling, bodies that never arrive, limits hit while the client is still
// sending. Every refused request gets its exact status, the connection is
// closed at once, and the model (a fake upstream that counts requests) is
// never called.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "fakes/fake_openai_upstream.h"
#include "fakes/raw_http_client.h"
#include "fakes/socket_probe.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using std::chrono::milliseconds;
using testing::Exchange;
using testing::SendAndRead;

constexpr milliseconds kDeadline{3000};

class ServeFramingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(upstream_.port(), 0);
    upstream_.SetStream({testing::OpenAiDeltaEvent("ok"), testing::OpenAiFinishEvent(), testing::kOpenAiDoneEvent});
    log_path_ = testing::WriteTempFile("framing.log", "");
  }
  void Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<testing::ServeProcess>(
        args,
        std::map<std::string, std::optional<std::string>>{{"OPENAI_BASE_URL", upstream_.base_url()},
                                                          {"OPENAI_API_KEY", "sk-test-secret-42"}},
        log_path_);
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  std::string Log() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // The refused request's answer: one response, `status`, `error`, then the
  // server closes although the client keeps its side open.
  void ExpectRefusedAndClosed(const std::string& request, int status, const std::string& error) {
    Exchange exchange = SendAndRead(port_, request, kDeadline);
    EXPECT_EQ(testing::FirstStatus(exchange.bytes), status) << request.substr(0, 200) << "\n" << exchange.bytes;
    EXPECT_EQ(testing::FirstError(exchange.bytes), error) << request.substr(0, 200);
    EXPECT_EQ(testing::CountResponses(exchange.bytes), 1) << "nothing smuggled is answered:\n" << exchange.bytes;
    EXPECT_NE(exchange.bytes.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(exchange.closed) << "the server must close the connection: " << request.substr(0, 200);
    EXPECT_LT(exchange.closed_ms, 2000);
  }

  testing::FakeOpenAiUpstream upstream_;
  std::unique_ptr<testing::ServeProcess> server_;
  std::string log_path_;
  int port_ = 0;
};

const std::string kBody = R"({"message":"hi"})";  // 16 bytes
const std::string kSmuggled = "GET /flows HTTP/1.1\r\nHost: x\r\n\r\n";

std::string Post(const std::string& fields, const std::string& body) {
  return "POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + fields + "\r\n" + body;
}

TEST_F(ServeFramingTest, SmuggledRequestsAreNeverAnswered) {
  Start();
  // Control: a plain request reaches the model once.
  auto plain = testing::RawRequest(port_, "POST", "/chat", kBody);
  ASSERT_EQ(plain.status, 200);
  ASSERT_EQ(upstream_.request_count(), 1);

  ExpectRefusedAndClosed(Post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" + kSmuggled), 400,
                         "request has both Content-Length and Transfer-Encoding");
  ExpectRefusedAndClosed(Post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", "0\r\n\r\n" + kSmuggled), 400,
                         "request has both Content-Length and Transfer-Encoding");
  ExpectRefusedAndClosed(Post("Content-Length: 16\r\nContent-Length: 49\r\n", kBody + kSmuggled), 400,
                         "request has several Content-Length headers");
  ExpectRefusedAndClosed(Post("Content-Length: 16,49\r\n", kBody + kSmuggled), 400, "invalid Content-Length");
  ExpectRefusedAndClosed(Post("X-Long: " + std::string(9000, 'a') + "\r\n", kSmuggled), 431,
                         "a header field is over the limit of 8192 bytes");
  ExpectRefusedAndClosed("GARBAGE\r\n" + kSmuggled, 400, "malformed request line");
  ExpectRefusedAndClosed("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n" + kSmuggled, 400,
                         "malformed request head: a header line starts with whitespace (obs-fold)");
  ExpectRefusedAndClosed(Post("Content-Length : 16\r\n", kBody), 400,
                         "malformed header field: whitespace between the name and the colon");
  ExpectRefusedAndClosed("GET /healthz HTTP/1.1\nHost: x\n\n" + kSmuggled, 400,
                         "malformed request head: a line ends in a bare LF (lines end in CRLF)");
  ExpectRefusedAndClosed(std::string("GET /healthz HTTP/1.1\r\nHost: x\0\r\n\r\n", 36) + kSmuggled, 400,
                         "malformed request head: control byte 0x00");
  ExpectRefusedAndClosed(Post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n" + kSmuggled), 400,
                         "unsupported Transfer-Encoding; only chunked is accepted");
  ExpectRefusedAndClosed(Post("Transfer-Encoding: chunked\r\n", "zz\r\n" + kBody + "\r\n0\r\n\r\n" + kSmuggled), 400,
                         "malformed chunked body: invalid chunk size");
  EXPECT_EQ(upstream_.request_count(), 1) << "no refused request reached the model";
}

TEST_F(ServeFramingTest, BodiesThatNeverArriveNeverRun) {
  Start({"--body-timeout", "1"});
  // 16 of 100 declared bytes, then nothing: 408 after the body deadline.
  Exchange short_body = SendAndRead(port_, Post("Content-Length: 100\r\n", kBody), kDeadline);
  EXPECT_EQ(testing::FirstStatus(short_body.bytes), 408);
  EXPECT_EQ(testing::FirstError(short_body.bytes), "the request body did not arrive within 1 s");
  EXPECT_TRUE(short_body.closed);
  // A chunked body without its last chunk.
  Exchange no_last_chunk = SendAndRead(port_, Post("Transfer-Encoding: chunked\r\n", "10\r\n" + kBody + "\r\n"), kDeadline);
  EXPECT_EQ(testing::FirstStatus(no_last_chunk.bytes), 408);
  // The client gives up half-way: the request is dropped.
  {
    const int fd = testing::ConnectTo(port_);
    const std::string partial = Post("Content-Length: 100\r\n", kBody);
    ASSERT_EQ(send(fd, partial.data(), partial.size(), MSG_NOSIGNAL), static_cast<ssize_t>(partial.size()));
    close(fd);
  }
  ExpectRefusedAndClosed(Post("Content-Length: -1\r\n", kBody), 400, "invalid Content-Length");
  ExpectRefusedAndClosed(Post("Content-Length: 18446744073709551616\r\n", kBody), 413,
                         "request body is over the limit of 1048576 bytes");
  ExpectRefusedAndClosed(Post("Content-Length: 12345678901234567890123\r\n", kBody), 413,
                         "request body is over the limit of 1048576 bytes");
  ExpectRefusedAndClosed(Post("Content-Length: 2000000\r\n", kBody), 413,
                         "request body is 2000000 bytes; the limit is 1048576");
  // The server still serves, and nothing above reached the model.
  EXPECT_EQ(testing::RawRequest(port_, "GET", "/healthz").status, 200);
  EXPECT_EQ(upstream_.request_count(), 0);
}

TEST_F(ServeFramingTest, HeadLimitsAnswerWhileTheClientIsStillSending) {
  Start();
  ExpectRefusedAndClosed("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414,
                         "request target is over the limit of 8192 bytes");
  std::string many = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
  ExpectRefusedAndClosed(many + "\r\n", 431, "request has more than 100 header fields");

  // A client that never stops sending header lines gets its 431 while it
  // sends, and the connection is cut.
  const int fd = testing::ConnectTo(port_);
  ASSERT_GE(fd, 0);
  const std::string start = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  ASSERT_GT(send(fd, start.data(), start.size(), MSG_NOSIGNAL), 0);
  std::atomic<bool> done{false};
  std::thread flood([&] {
    const std::string line = "X-Flood: " + std::string(100, 'f') + "\r\n";
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    while (!done && std::chrono::steady_clock::now() < until) {
      if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) < 0) break;
    }
  });
  std::string answer;
  const bool closed = testing::ReadUntilClosed(fd, answer, kDeadline);
  done = true;
  flood.join();
  close(fd);
  EXPECT_TRUE(closed);
  EXPECT_EQ(testing::FirstStatus(answer), 431) << answer;
  EXPECT_EQ(testing::FirstError(answer), "request has more than 100 header fields");
}

TEST_F(ServeFramingTest, KeepAlivePipeliningAndExpectContinueWork) {
  Start();
  // Two requests in one send are answered in order on one connection.
  Exchange pipelined = SendAndRead(
      port_, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      kDeadline);
  EXPECT_EQ(testing::CountResponses(pipelined.bytes), 2) << pipelined.bytes;
  EXPECT_TRUE(pipelined.closed);

  // Expect: 100-continue gets its interim answer before the body is sent.
  const int fd = testing::ConnectTo(port_);
  const std::string head = "POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 16\r\n"
                           "Expect: 100-continue\r\nConnection: close\r\n\r\n";
  ASSERT_GT(send(fd, head.data(), head.size(), MSG_NOSIGNAL), 0);
  std::string interim;
  char buffer[256];
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  while (interim.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < until) {
    const ssize_t got = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (got > 0) interim.append(buffer, static_cast<size_t>(got));
    if (got <= 0) std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_GT(send(fd, kBody.data(), kBody.size(), MSG_NOSIGNAL), 0);
  std::string rest;
  EXPECT_TRUE(testing::ReadUntilClosed(fd, rest, kDeadline));
  close(fd);
  EXPECT_EQ(testing::FirstStatus(rest), 200);
  EXPECT_NE(rest.find("data: \"ok\""), std::string::npos) << rest;
  EXPECT_EQ(upstream_.request_count(), 1);
}

TEST_F(ServeFramingTest, RefusalsAreLoggedEscapedAndCounted) {
  Start({"--header-timeout", "1"});
  SendAndRead(port_, Post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), kDeadline);
  SendAndRead(port_, "GET /\x1b[2J\x07 HTTP/1.1\r\nHost: x\r\n\r\n", kDeadline);
  SendAndRead(port_, "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n", kDeadline);
  SendAndRead(port_, "GET /healthz HTTP/1.1\r\nX-Long: " + std::string(9000, 'a'), kDeadline);
  Exchange slow = SendAndRead(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\n", kDeadline);  // never ends its head
  EXPECT_EQ(testing::FirstStatus(slow.bytes), 408);
  EXPECT_EQ(testing::FirstError(slow.bytes), "the request head did not arrive within 1 s");

  auto metrics = testing::RawRequest(port_, "GET", "/metrics");
  for (const char* line : {"flowrun_other_requests_total{status=\"400\"} 2", "flowrun_other_requests_total{status=\"414\"} 1",
                           "flowrun_other_requests_total{status=\"431\"} 1", "flowrun_other_requests_total{status=\"408\"} 1"}) {
    EXPECT_NE(metrics.body.find(line), std::string::npos) << line << "\n" << metrics.body;
  }
  const std::string log = Log();
  EXPECT_NE(log.find(" POST /chat 400: request has both Content-Length and Transfer-Encoding"), std::string::npos) << log;
  EXPECT_NE(log.find(" - - 400: malformed request head: control byte 0x1b"), std::string::npos) << log;
  EXPECT_NE(log.find(" - - 414: request target is over the limit of 8192 bytes"), std::string::npos) << log;
  EXPECT_NE(log.find(" GET /healthz 431: a header field is over the limit of 8192 bytes"), std::string::npos) << log;
  EXPECT_NE(log.find(" GET /healthz 408: the request head did not arrive within 1 s"), std::string::npos) << log;
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << "no raw control byte reaches the log";
  EXPECT_EQ(log.find('\x07'), std::string::npos);
}

}  // namespace
}  // namespace flowrun
