#ifndef CHANNEL_TESTS_SUPPORT_SOCKETS_RAW_WS_SOCKET_H_
#define CHANNEL_TESTS_SUPPORT_SOCKETS_RAW_WS_SOCKET_H_

#include <chrono>
#include <deque>
#include <optional>
#include <string>

struct ssl_st;  // OpenSSL's SSL

namespace channel::testing {

// A WebSocket client that does only what a test tells it: the handshake,
// masked text frames out, frames in when asked, and nothing else. It never
// reads unless asked and never answers pings: a slow or dead client. With
// `tls` it speaks wss (OpenSSL, any certificate accepted) and the same
// calls go through TLS. One thread at a time.
class RawWsSocket {
 public:
  struct Options {
    bool tls = false;
    // > 0: SO_RCVBUF shrunk to this before connecting (a slow reader).
    int receive_buffer = 0;
    std::string target = "/";
  };
  // Connects to 127.0.0.1:port and completes the upgrade; receive_buffer > 0
  // shrinks SO_RCVBUF first.
  explicit RawWsSocket(int port, int receive_buffer = 0);
  RawWsSocket(int port, const Options& options);
  ~RawWsSocket();
  RawWsSocket(const RawWsSocket&) = delete;
  RawWsSocket& operator=(const RawWsSocket&) = delete;

  // The upgrade completed (101).
  bool ok() const { return ok_; }
  // The status line of the answer to the upgrade ("" when none came).
  const std::string& status_line() const { return status_line_; }

  bool SendText(const std::string& payload);
  // Writes `bytes` as they are (after the upgrade: frames made by the test).
  bool SendRaw(const std::string& bytes);

  struct Frame {
    int opcode = 0;
    std::string payload;
  };
  // The next frame from the server; nullopt on EOF, error or timeout.
  std::optional<Frame> ReadFrame(std::chrono::milliseconds timeout);
  // The next text frame (other frames skipped); nullopt on a close frame
  // (close_code() then has its code), EOF, error or timeout.
  std::optional<std::string> ReadText(std::chrono::milliseconds timeout);
  // Sends `json` (a command with "id":id) and returns the reply with that
  // id (texts before it are kept for ReadText); "" on timeout.
  std::string Request(const std::string& json, int id,
                      std::chrono::milliseconds timeout);
  // Reads until a close frame arrives; returns its code (1005 when it has
  // none), or nullopt on EOF or timeout first.
  std::optional<int> WaitForCloseFrame(std::chrono::milliseconds timeout);
  int close_code() const { return close_code_; }
  // Reads and discards until the server closes the connection (for wss:
  // close_notify or EOF).
  bool WaitForEof(std::chrono::milliseconds timeout);

  // wss: sends close_notify and nothing more (the socket stays open).
  void SendCloseNotify();
  // Writes `bytes` on the TCP socket itself, under any TLS (a truncated or
  // forged record).
  bool SendBelowTls(const std::string& bytes);
  // Drops the TCP connection now, without any close (RST with `reset`).
  void Drop(bool reset);

 private:
  bool Write(const char* data, size_t size);
  // Appends what arrives to in_; >0 bytes, 0 on EOF, -1 on error or
  // timeout.
  int Fill(std::chrono::steady_clock::time_point deadline);
  bool WaitFd(short events, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  ssl_st* ssl_ = nullptr;
  bool ok_ = false;
  int close_code_ = 0;
  std::string status_line_;
  std::string in_;                 // bytes read, not yet parsed
  std::deque<std::string> texts_;  // read by Request, not yet by ReadText
};

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_SUPPORT_SOCKETS_RAW_WS_SOCKET_H_
