// Raw-socket HTTP client for tests.
#include "fakes/raw_http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

namespace flowrun::testing {

std::string Dechunk(const std::string& data) {
  std::string out;
  size_t position = 0;
  while (position < data.size()) {
    size_t line_end = data.find("\r\n", position);
    if (line_end == std::string::npos) break;
    size_t size = std::stoul(data.substr(position, line_end - position), nullptr, 16);
    if (size == 0) break;
    out += data.substr(line_end + 2, size);
    position = line_end + 2 + size + 2;
  }
  return out;
}

int ConnectTo(int port, int receive_buffer_bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer_bytes > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof(receive_buffer_bytes));
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

RawResponse RawRequest(int port, const std::string& method, const std::string& path, const std::string& body,
                       std::map<std::string, std::string> headers,
                       const std::function<bool(const std::string&)>& on_bytes) {
  std::ostringstream request;
  request << method << " " << path << " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) request << name << ": " << value << "\r\n";
  if (!body.empty() || method == "POST") request << "Content-Length: " << body.size() << "\r\n";
  request << "\r\n" << body;
  return SendRaw(port, request.str(), on_bytes);
}

RawResponse SendRaw(int port, const std::string& bytes, const std::function<bool(const std::string&)>& on_bytes) {
  RawResponse response;
  int fd = ConnectTo(port);
  if (fd < 0) return response;
  response.connected = true;
  (void)send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);

  std::string raw;
  char buffer[16384];
  while (true) {
    ssize_t received = recv(fd, buffer, sizeof(buffer), 0);
    if (received <= 0) break;
    raw.append(buffer, static_cast<size_t>(received));
    response.arrivals.push_back(std::chrono::steady_clock::now());
    if (on_bytes && !on_bytes(raw)) break;
  }
  close(fd);

  size_t header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos) return response;
  std::istringstream head(raw.substr(0, header_end));
  std::string line;
  std::getline(head, line);
  if (line.size() > 12) response.status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t value = line.find_first_not_of(' ', colon + 1);
    response.headers[name] = value == std::string::npos ? "" : line.substr(value);
  }
  std::string payload = raw.substr(header_end + 4);
  response.body = response.headers["transfer-encoding"] == "chunked" ? Dechunk(payload) : payload;
  return response;
}

std::vector<std::map<std::string, std::string>> ParseSse(const std::string& body) {
  std::vector<std::map<std::string, std::string>> events;
  std::map<std::string, std::string> current;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) {
      if (!current.empty()) events.push_back(current);
      current.clear();
      continue;
    }
    if (line[0] == ':') continue;
    size_t colon = line.find(':');
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    current[line.substr(0, colon)] = value;
  }
  if (!current.empty()) events.push_back(current);
  return events;
}

}  // namespace flowrun::testing
