#ifndef CHANNEL_TESTS_SUPPORT_CLIENTS_WS_TEST_CLIENTS_H_
#define CHANNEL_TESTS_SUPPORT_CLIENTS_WS_TEST_CLIENTS_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace channel::testing {

// Real WebSocket clients (websocketpp) for gateway tests: any number of
// connections on one background io thread. Every wait is on a condition with
// a deadline, never a sleep.
class WsTestClients {
 public:
  WsTestClients();
  ~WsTestClients();

  // Opens a connection and waits for the handshake. Returns its index, or -1
  // on failure (then last_http_status() tells the refusal's status).
  int Connect(const std::string& uri,
              const std::map<std::string, std::string>& headers = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(10));
  int last_http_status() const;

  bool Send(int c, const std::string& text);
  bool SendBinary(int c, const std::string& bytes);
  // Sends {"cmd":...,"id":N} style commands and waits for the reply with
  // that id; returns the reply text (empty on timeout).
  std::string Request(
      int c, const std::string& json_with_id, const std::string& id_json,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Waits until connection c has received at least n messages; returns all.
  std::vector<std::string> WaitForMessages(
      int c, size_t n,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<std::string> Messages(int c);
  size_t MessageCount(int c);

  // Waits for the connection to close; returns the close code received
  // (1006 when none was).
  std::optional<int> WaitClosed(
      int c, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::string CloseReason(int c);
  bool IsOpen(int c);

  void Close(int c);  // normal close (1000)
  void Abort(int c);  // drops the TCP connection without a close frame

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_SUPPORT_CLIENTS_WS_TEST_CLIENTS_H_
