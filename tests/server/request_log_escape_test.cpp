// Control bytes a client puts into a request path (ESC, NUL, DEL, here
// percent-encoded, which the server decodes) never reach the text log raw;
// JSON logs carry them JSON-escaped.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fakes/raw_http_client.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

const std::string kFlow = std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml";
const std::string kHostilePath = "/x%1b%5b31mred%00%7f%c2%9b";
const std::string kDecodedPath = std::string("/x\x1b[31mred\0\x7f\xc2\x9b", 14);

// The server's stderr after `path` was requested once (with `format`).
std::string LogAfterRequest(const std::string& format) {
  const std::string log_path = testing::WriteTempFile("serve.log", "");
  {
    testing::ServeProcess server({kFlow, "--log-format", format},
                                 {{"OPENAI_API_KEY", std::nullopt}, {"OPENAI_BASE_URL", std::nullopt}}, log_path);
    EXPECT_GT(server.port(), 0);
    auto response = testing::SendRaw(server.port(), "GET " + kHostilePath +
                                                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: esc-1\r\n"
                                                        "Connection: close\r\n\r\n");
    EXPECT_EQ(response.status, 404);
  }
  std::ifstream in(log_path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The first byte a terminal could act on (other than a line end), or npos.
size_t FirstControlByte(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if ((byte < 0x20 && byte != '\n') || byte == 0x7f) return i;
    if (byte == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9f) return i;
  }
  return std::string::npos;
}

TEST(RequestLogEscape, TextLogShowsControlBytesEscaped) {
  const std::string log = LogAfterRequest("text");
  EXPECT_EQ(FirstControlByte(log), std::string::npos) << log;
  const std::string escaped = "/x\\x1b[31mred\\x00\\x7f\\xc2\\x9b";
  EXPECT_NE(log.find("[esc-1] GET " + escaped + " 404: no such path: " + escaped + "; flows are served at /chat\n"),
            std::string::npos)
      << log;
}

TEST(RequestLogEscape, JsonLogCarriesThemJsonEscaped) {
  const std::string log = LogAfterRequest("json");
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << log;
  EXPECT_EQ(log.find('\0'), std::string::npos) << log;
  bool found = false;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    auto record = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(record.is_discarded()) << "not a JSON line: " << line;
    if (record.value("request_id", "") != "esc-1") continue;
    found = true;
    EXPECT_EQ(record["path"], kDecodedPath);
    EXPECT_EQ(record["status"], 404);
    EXPECT_NE(line.find(R"("path":"/x\u001b[31mred\u0000)"), std::string::npos) << line;
  }
  EXPECT_TRUE(found) << log;
}

}  // namespace
}  // namespace flowrun
