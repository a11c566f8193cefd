#ifndef CHANNEL_GATEWAY_WS_WS_CONNECTION_H_
#define CHANNEL_GATEWAY_WS_WS_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "common/framing/frame_encoder.h"
#include "common/framing/frame_queue.h"
#include "gateway/connection_data.h"
#include "gateway/tls/tls_stream.h"

namespace channel {

class WsServer;

// Close codes the gateway sends or counts (RFC 6455 7.4.1).
namespace ws_close {
inline constexpr uint16_t kGoingAway = 1001;
inline constexpr uint16_t kPolicyViolation = 1008;
inline constexpr uint16_t kMessageTooBig = 1009;
}  // namespace ws_close

// One server-side WebSocket connection (RFC 6455), ws or wss. The parsing is
// websocketpp's (its HTTP request parser for the opening handshake, its
// hybi13 processor for frames, in this class's source files only); the socket
// handling is this class, because websocketpp's connection object costs
// ~5 KiB per connection whatever it does (its Asio transport keeps two
// fixed 1 KiB handler blocks, a fixed read buffer, ~20 handlers, a send
// deque). An idle open connection here holds its socket, its frame
// processor and ConnectionData; nothing else.
//
// wss: when its server has a TlsContext the connection first completes a
// TLS server handshake (TlsStream: OpenSSL on this socket), and every read
// and write below then goes through TLS; nothing else differs. The TLS
// handshake is part of kHandshake: it counts toward the handshake deadline
// and the pending-handshake budget like the HTTP request does.
//
// Life: kHandshake (TLS for wss, then reading the request, answering it)
// -> kOpen -> kClosing
// (a close frame was sent; waiting for the peer's, or for the write to end)
// -> kClosed. Every path ends in Terminate, which reports exactly once to
// the server's events: `fail` if the connection never opened, else
// `close`.
//
// Threading: lives on its worker's thread, like its WsServer. Every pending
// wait and posted call holds a shared_ptr to it; the server owns it until
// it opens, the worker after that.
//
// Reading: no buffer of its own. On readability one recv of at most 16 KiB
// into the thread's read buffer (net/socket_io.h, used only inside that
// call), whose bytes are parsed at once; a full read posts the next one
// instead of looping, so one flooding client cannot hold the thread. wss:
// TLS reads (a record each) fill the same 16 KiB at most per turn; when
// that is full or plaintext is left inside the session, the next read is
// posted likewise.
//
// Writing: bytes go straight to the socket (wss: to TLS) while nothing is
// queued; what is not taken waits in a FrameQueue (allocated only while
// something waits), written on writability, in order (ws: SendGathered;
// wss: TlsStream::WriteQueued, one record per call).
// Nothing here ends the connection synchronously from a send: a failed
// write ends it from a posted call, so callers iterating connections never
// see one vanish.
class WsConnection : public ConnectionData,
                     public std::enable_shared_from_this<WsConnection> {
 public:
  enum class State : uint8_t { kHandshake, kOpen, kClosing, kClosed };
  // Bound to its io_context's own executor, not the type-erased
  // any_io_executor: the socket and every pending wait are ~100 bytes
  // smaller.
  using Socket =
      asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

  WsConnection(WsServer* server, Socket socket);
  ~WsConnection();
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  // Settles the parsers' process-wide state: call once on the main thread
  // before any worker thread starts (websocketpp 0.8.2's _htonll lazily
  // sets a plain function-local static on first use; threads building
  // their first extended frame header at once race, ThreadSanitizer found
  // it).
  static void SettleSharedState();

  // Starts the TLS handshake (wss) or reading the opening request (the
  // server calls it once).
  void Start();

  State state() const { return state_; }
  bool is_open() const { return state_ == State::kOpen; }
  // The opening request's target (path and query) and Origin header: valid
  // during the validate and open events, empty after.
  absl::string_view resource() const;
  absl::string_view origin() const;
  // Header `name` of the opening request (empty if absent); valid as
  // resource().
  absl::string_view header(const std::string& name) const;
  std::string remote_endpoint() const;
  // Close codes sent and received (0: none yet).
  uint16_t local_close_code() const { return local_close_code_; }
  uint16_t remote_close_code() const { return remote_close_code_; }
  // Bytes written by the caller that the kernel has not taken yet.
  size_t buffered_amount() const { return out_ ? out_->bytes() : 0; }
  Socket& socket() { return socket_; }
  // wss: the TLS handshake completed (false for ws, and for a wss
  // connection that ended before it).
  bool tls_established() const { return tls_.established(); }

  // Sends one text frame carrying `payload`. False: not open.
  bool SendText(absl::string_view payload);
  // Sends ready WebSocket frames (a fan-out segment, the same bytes for
  // every recipient). When the kernel takes none of them and they must
  // wait, they wait as *shared, made from `frames` by the first recipient
  // that needs it. Returns true when every byte went to the kernel now.
  bool SendFrames(const std::string& frames, SharedFrame* shared);
  void Ping();
  // Starts the close handshake (only while open): the close frame goes out
  // after what is queued, nothing more is sent, and the connection ends
  // when the peer answers, or at the server's close_timeout. The close
  // state and its deadline are this connection's (state()).
  void Close(uint16_t code, absl::string_view reason);
  // Ends the connection from a posted call: the socket closes, the close
  // (or fail) event follows. Safe anywhere, any number of times.
  void Cut(absl::string_view why);
  // Ends the connection now. For the server's and this class's own
  // handlers only: the events run inside.
  void Terminate(absl::string_view why);

 private:
  struct Handshake;
  struct Codec;

  void ArmRead();
  void OnReadable();
  void ConsumeRequest(char* data, size_t size);
  void Answer();
  void Reject(int status, absl::string_view body, bool version_header);
  void ConsumeFrames(char* data, size_t size);
  void Dispatch();
  void OnCloseFrame(const std::string& payload);
  void Fail(uint16_t code, const std::string& reason);
  void SendControl(int opcode, uint16_t code, absl::string_view payload);
  // Writes `bytes` (already held by *shared when shared is not null).
  bool Write(absl::string_view bytes, const SharedFrame* shared);
  // Hands `bytes` to the kernel (wss: to TLS) now: how many it took (0 when
  // it would block). An error (Unavailable) means the connection is broken;
  // its message says how and becomes the close reason.
  absl::StatusOr<size_t> WriteNow(absl::string_view bytes);
  void ArmWrite();
  void OnWritable();
  void Flush();
  void EndAfterFlush();
  // wss, in kHandshake before the HTTP request: one TLS handshake step.
  void StepTls();
  // What a read turn found beyond the bytes it returned.
  enum class ReadEnd : uint8_t {
    kMore,          // more may wait: read again on a later turn (posted)
    kWait,          // wait for readability
    kWaitWritable,  // TLS must write before it reads on: wait to write
    kEnd,           // EOF or an error (`why`): end the connection
  };
  // Reads at most 16 KiB into `buffer`; *size gets the count.
  ReadEnd ReadSome(char* buffer, size_t* size, std::string* why);
  void PostRead();

  WsServer* const server_;
  Socket socket_;
  TlsStream tls_;                         // wss only
  std::unique_ptr<Handshake> handshake_;  // until open
  std::unique_ptr<Codec> codec_;          // from the upgrade on
  std::unique_ptr<FrameQueue> out_;       // only while bytes wait
  State state_ = State::kHandshake;
  bool reading_ = false;           // a read wait or posted read is pending
  bool writing_ = false;           // a write wait is pending
  bool end_on_flush_ = false;      // terminate once the queue is written
  bool cut_ = false;               // a posted Terminate is pending
  bool read_on_writable_ = false;  // TLS must write before it can read
  uint16_t local_close_code_ = 0;
  uint16_t remote_close_code_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_WS_WS_CONNECTION_H_
