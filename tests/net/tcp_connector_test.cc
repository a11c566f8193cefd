#include "net/tcp_connector.h"

#include <filesystem>
#include <iterator>
#include <optional>
#include <string>

#include "asio/io_context.hpp"
#include "gtest/gtest.h"

namespace channel {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Result {
  absl::Status status;
  bool socket_open = false;
};

// Runs io until `result` is set or nothing is left to run.
void RunUntil(asio::io_context& io, const std::optional<Result>& result) {
  while (!result && io.run_one_for(seconds(10)) > 0) {
  }
}

// One Connect with a 5 s deadline, run until its callback; nullopt if it
// never called back.
std::optional<Result> ConnectAndRun(asio::io_context& io,
                                    TcpConnector& connector,
                                    const std::string& host, uint16_t port) {
  std::optional<Result> result;
  connector.Connect(host, port, seconds(5),
                    [&](const absl::Status& s, asio::ip::tcp::socket socket) {
                      result = Result{s, socket.is_open()};
                    });
  RunUntil(io, result);
  return result;
}

TEST(TcpConnectorTest, ConnectsToAListener) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(
      io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  TcpConnector connector(io);
  std::optional<Result> result = ConnectAndRun(
      io, connector, "127.0.0.1", acceptor.local_endpoint().port());
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->status.ok()) << result->status;
  EXPECT_TRUE(result->socket_open);
}

// The process's threads (Linux: /proc/self/task).
int ThreadCount() {
  return static_cast<int>(
      std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                    std::filesystem::directory_iterator()));
}

// A numeric address is connected to with no name lookup, so Asio starts no
// resolver thread for it; a name is still resolved ("localhost").
TEST(TcpConnectorTest, NumericAddressNeedsNoResolverThread) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(
      io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const int before = ThreadCount();
  TcpConnector connector(io);
  std::optional<Result> result = ConnectAndRun(
      io, connector, "127.0.0.1", acceptor.local_endpoint().port());
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->status.ok()) << result->status;
  EXPECT_EQ(ThreadCount(), before);

  result = ConnectAndRun(io, connector, "localhost",
                         acceptor.local_endpoint().port());
  ASSERT_TRUE(result);
  EXPECT_EQ(ThreadCount(), before + 1);  // the lookup's thread
}

TEST(TcpConnectorTest, RefusedNamesHostAndPort) {
  asio::io_context io;
  uint16_t port;
  {  // a port nobody listens on any more
    asio::ip::tcp::acceptor probe(
        io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  TcpConnector connector(io);
  std::optional<Result> result =
      ConnectAndRun(io, connector, "127.0.0.1", port);
  ASSERT_TRUE(result);
  EXPECT_TRUE(absl::IsUnavailable(result->status));
  EXPECT_NE(result->status.message().find("connect 127.0.0.1:" +
                                          std::to_string(port)),
            absl::string_view::npos)
      << result->status;
  EXPECT_FALSE(result->socket_open);
}

// Cancel, a second Connect and destruction each silence the attempt before:
// its callback never runs, and nothing it left pending touches freed state
// (ASan checks that part).
TEST(TcpConnectorTest, CancelledAttemptsNeverCallBack) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(
      io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  int stale_calls = 0;
  auto stale = [&](const absl::Status&, asio::ip::tcp::socket) {
    ++stale_calls;
  };
  std::optional<Result> result;
  {
    TcpConnector connector(io);
    connector.Connect("127.0.0.1", port, seconds(5), stale);
    connector.Cancel();
    connector.Connect("127.0.0.1", port, seconds(5), stale);
    connector.Connect("127.0.0.1", port, seconds(5),
                      [&](const absl::Status& s, asio::ip::tcp::socket sock) {
                        result = Result{s, sock.is_open()};
                      });
    RunUntil(io, result);
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->status.ok()) << result->status;
    connector.Connect("127.0.0.1", port, milliseconds(1), stale);
  }  // destroyed with an attempt pending
  io.restart();
  io.run();  // returns once every cancelled handler has run
  EXPECT_EQ(stale_calls, 0);
}

}  // namespace
}  // namespace channel
