// A tiny blocking HTTP/1.1 client over a raw socket, for server tests that
// need to see bytes as they arrive (timing, chunk boundaries) or to drop a
// connection mid-stream. Sends `Connection: close` and reads to EOF.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace flowrun::testing {

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;                            // de-chunked
  std::vector<std::chrono::steady_clock::time_point> arrivals;  // one per recv()
  bool connected = false;
};

// `on_bytes` sees raw bytes as they come; return false to close early.
RawResponse RawRequest(int port, const std::string& method, const std::string& path,
                       const std::string& body = "",
                       std::map<std::string, std::string> headers = {{"Content-Type", "application/json"}},
                       const std::function<bool(const std::string& so_far)>& on_bytes = nullptr);

// Sends `request_bytes` as they are (any framing, e.g. a chunked body) and
// reads the response to EOF, like RawRequest.
RawResponse SendRaw(int port, const std::string& request_bytes,
                    const std::function<bool(const std::string& so_far)>& on_bytes = nullptr);

// A connected TCP socket to 127.0.0.1:port (-1 on failure); caller closes.
// `receive_buffer_bytes` > 0 shrinks the socket's receive buffer first, so
// the server's writes fill it quickly (a slow client).
int ConnectTo(int port, int receive_buffer_bytes = 0);

// The body of a chunked HTTP response body, de-chunked.
std::string Dechunk(const std::string& data);

// Splits an SSE body into events: each a map field -> value ("event", "id", "data").
std::vector<std::map<std::string, std::string>> ParseSse(const std::string& body);

}  // namespace flowrun::testing
