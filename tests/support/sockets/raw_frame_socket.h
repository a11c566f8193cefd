#ifndef CHANNEL_TESTS_SUPPORT_SOCKETS_RAW_FRAME_SOCKET_H_
#define CHANNEL_TESTS_SUPPORT_SOCKETS_RAW_FRAME_SOCKET_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "proto/channel.pb.h"

namespace channel::testing {

// A blocking TCP connection to the broker that speaks raw frames: for tests
// that must send what a well-behaved client never would, or stop reading.
class RawFrameSocket {
 public:
  // Connects to 127.0.0.1:port; receive_buffer > 0 shrinks SO_RCVBUF.
  explicit RawFrameSocket(int port, int receive_buffer = 0);
  // Takes ownership of a connected descriptor (a fake broker's accepted
  // connection).
  static std::unique_ptr<RawFrameSocket> Adopt(int fd);
  ~RawFrameSocket();

  bool connected() const { return fd_ >= 0; }
  bool SendRaw(const std::string& bytes);
  bool SendEnvelope(const v1::Envelope& envelope);
  bool SendHello(const std::string& token = "", uint32_t version = 1);

  // Next frame body (empty string: heartbeat); nullopt on EOF, error or
  // timeout. *eof is set when the peer closed.
  std::optional<std::string> ReadFrame(std::chrono::milliseconds timeout,
                                       bool* eof = nullptr);
  // Next non-heartbeat Envelope.
  std::optional<v1::Envelope> ReadEnvelope(std::chrono::milliseconds timeout);
  // True when the peer closes within `timeout` (frames before EOF are
  // discarded).
  bool WaitForEof(std::chrono::milliseconds timeout);

 private:
  RawFrameSocket() = default;
  bool ReadExactly(char* out, size_t n, std::chrono::milliseconds timeout,
                   bool* eof);
  int fd_ = -1;
};

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_SUPPORT_SOCKETS_RAW_FRAME_SOCKET_H_
