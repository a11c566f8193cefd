#include "tests/support/sockets/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "tests/support/sockets/loopback.h"

namespace channel::testing {

HttpResponse HttpGet(int port, const std::string& path) {
  HttpResponse response;
  const int fd = ConnectLoopback(port);
  if (fd < 0) return response;
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const std::string request =
      "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return response;
  }
  std::string raw;
  char buffer[8192];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) raw.append(buffer, n);
  close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  const size_t space = raw.find(' ');
  const size_t blank = raw.find("\r\n\r\n");
  if (space == std::string::npos || blank == std::string::npos) {
    return response;
  }
  response.status = std::atoi(raw.c_str() + space + 1);
  response.body = raw.substr(blank + 4);
  return response;
}

double MetricValue(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() &&
        line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return -1;
}

double WaitMetricValue(int admin_port, const std::string& series, double want,
                       std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const double v = MetricValue(HttpGet(admin_port, "/metrics").body, series);
    if (v == want || std::chrono::steady_clock::now() >= deadline) return v;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace channel::testing
