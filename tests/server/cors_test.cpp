// CORS over a real socket: every CORS header appears exactly once in the raw
// response head, on preflights and on normal answers (browsers reject a
// doubled Access-Control-Allow-Origin).
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "fakes/raw_http_client.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

const std::string kFlow = std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml";

// The response head exactly as it came off the socket.
std::string RawHead(int port, const std::string& request) {
  std::string head;
  testing::SendRaw(port, request, [&](const std::string& so_far) {
    const size_t end = so_far.find("\r\n\r\n");
    if (end == std::string::npos) return true;
    head = so_far.substr(0, end + 2);
    return false;
  });
  return head;
}

// How many header lines in `head` are named `name` (any case).
int Count(const std::string& head, std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  int count = 0;
  std::istringstream lines(head);
  for (std::string line; std::getline(lines, line);) {
    std::string lower = line.substr(0, line.find(':'));
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (line.find(':') != std::string::npos && lower == name) ++count;
  }
  return count;
}

std::string Request(const std::string& method, const std::string& path, const std::string& extra,
                    const std::string& body = "") {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra +
         (body.empty() && method != "POST" ? "" : "Content-Type: application/json\r\nContent-Length: " +
                                                     std::to_string(body.size()) + "\r\n") +
         "\r\n" + body;
}

TEST(Cors, EachHeaderExactlyOnceOnPreflightsAndAnswers) {
  testing::ServeProcess server({kFlow, "--cors-origin", "https://app.example"});
  ASSERT_GT(server.port(), 0);
  const std::string allowed = "Origin: https://app.example\r\n";

  const std::string preflight =
      RawHead(server.port(), Request("OPTIONS", "/chat",
                                     allowed + "Access-Control-Request-Method: POST\r\n"
                                               "Access-Control-Request-Headers: authorization,content-type\r\n"));
  ASSERT_EQ(preflight.rfind("HTTP/1.1 204", 0), 0u) << preflight;
  EXPECT_NE(preflight.find("Access-Control-Allow-Origin: https://app.example\r\n"), std::string::npos) << preflight;
  for (const char* name : {"Access-Control-Allow-Origin", "Vary", "Access-Control-Allow-Methods",
                           "Access-Control-Allow-Headers", "Access-Control-Max-Age", "X-Request-Id"}) {
    EXPECT_EQ(Count(preflight, name), 1) << name << "\n" << preflight;
  }
  EXPECT_EQ(Count(preflight, "Content-Type"), 0) << "a 204 has no (empty) Content-Type\n" << preflight;

  const std::string stream = RawHead(server.port(), Request("POST", "/chat", allowed, R"({"message":"hi"})"));
  ASSERT_EQ(stream.rfind("HTTP/1.1 200", 0), 0u) << stream;
  const std::string listing = RawHead(server.port(), Request("GET", "/flows", allowed));
  ASSERT_EQ(listing.rfind("HTTP/1.1 200", 0), 0u) << listing;
  const std::string error = RawHead(server.port(), Request("GET", "/nowhere", allowed));
  ASSERT_EQ(error.rfind("HTTP/1.1 404", 0), 0u) << error;
  for (const std::string& head : {stream, listing, error}) {
    for (const char* name : {"Access-Control-Allow-Origin", "Vary", "Access-Control-Expose-Headers"}) {
      EXPECT_EQ(Count(head, name), 1) << name << "\n" << head;
    }
    EXPECT_NE(head.find("Vary: Origin\r\n"), std::string::npos) << head;
  }

  // Another origin: no allow-origin at all, and still one Vary (the answer
  // depends on Origin, so caches must key on it).
  const std::string foreign = "Origin: https://evil.example\r\n";
  const std::string refused = RawHead(
      server.port(), Request("OPTIONS", "/chat", foreign + "Access-Control-Request-Method: POST\r\n"));
  ASSERT_EQ(refused.rfind("HTTP/1.1 403", 0), 0u) << refused;
  const std::string other = RawHead(server.port(), Request("GET", "/flows", foreign));
  for (const std::string& head : {refused, other}) {
    EXPECT_EQ(Count(head, "Access-Control-Allow-Origin"), 0) << head;
    EXPECT_EQ(Count(head, "Access-Control-Expose-Headers"), 0) << head;
    EXPECT_EQ(Count(head, "Vary"), 1) << head;
  }
}

TEST(Cors, NoCorsHeadersWithoutConfiguredOrigins) {
  testing::ServeProcess server({kFlow});
  ASSERT_GT(server.port(), 0);
  const std::string head = RawHead(server.port(), Request("OPTIONS", "/chat",
                                                          "Origin: https://app.example\r\n"
                                                          "Access-Control-Request-Method: POST\r\n"));
  ASSERT_EQ(head.rfind("HTTP/1.1 403", 0), 0u) << head;
  for (const char* name : {"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Vary"}) {
    EXPECT_EQ(Count(head, name), 0) << name << "\n" << head;
  }
}

}  // namespace
}  // namespace flowrun
