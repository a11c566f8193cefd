// Worker::Impl's connection lifecycle (the WsServer's open, close and
// fail events) and the replies the Authenticator and CommandDispatcher send
// through it (Authenticator::Host).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"
#include "gateway/worker/worker_impl.h"
#include "gateway/ws/http_request.h"

namespace channel {

void Worker::Impl::OnFailed(WsConnection& con, absl::string_view why) {
  admission_.EndPending(&con);
  admission_.ReleaseSlot(&con);
  if (tls_ != nullptr) trimmer_.Handshake();
  if (tls_ != nullptr && !con.tls_established()) {
    // Garbage or plain HTTP on the wss port, a client that never sent
    // its ClientHello, a peer gone mid-handshake: counted, logged
    // rate-limited (a peer can trigger it at will).
    Bump(stats_.tls_handshakes_failed);
    CHANNEL_LOG_LIMITED(spdlog::level::info, "TLS handshake failed: {}", why);
    return;
  }
  spdlog::debug("handshake failed: {}", why);
}

void Worker::Impl::OnOpen(const ConnectionPtr& con) {
  admission_.EndPending(con.get());
  if (tls_ != nullptr) trimmer_.Handshake();
  con->bucket = TokenBucket(options_.rate_limit_per_sec,
                            options_.rate_limit_burst, Clock::now());
  con->byte_bucket = TokenBucket(
      options_.rate_limit_bytes_per_sec,
      std::max(2.0 * static_cast<double>(options_.max_message_bytes),
               options_.rate_limit_bytes_per_sec),
      Clock::now());
  con->id = (uint64_t(worker_index_) << 48) | next_conn_++;
  con->last_seen = con->opened = Clock::now();
  conns_.emplace(con->id, con);
  stats_.connections.fetch_add(1, std::memory_order_relaxed);
  Bump(stats_.connections_accepted);
  // Never log the resource: it may carry ?token=.
  spdlog::debug("conn {} opened from {}", con->id, con->remote_endpoint());
  const std::string resource(con->resource());
  if (QueryParam(resource, "format") == "json") {
    con->json_framing = true;
    ++json_connections_;
  }
  auth_.OnOpen(con.get(), QueryParam(resource, "token"));
  if (app_.events()) app_.OnConnect(con.get(), AppConnectInfo(*con));
}

ConnectInfo Worker::Impl::AppConnectInfo(WsConnection& con) const {
  ConnectInfo info;
  info.address = con.remote_endpoint();
  const absl::string_view resource = con.resource();
  const size_t q = resource.find('?');
  info.path = std::string(resource.substr(0, q));
  if (options_.app.event_query && q != absl::string_view::npos) {
    info.query = std::string(resource.substr(q + 1));
  }
  for (const std::string& name : options_.app.event_headers) {
    absl::string_view value = con.header(name);
    if (!value.empty()) info.headers.emplace_back(name, std::string(value));
  }
  if (!options_.app.event_cookies.empty()) {
    const absl::string_view cookies = con.header("Cookie");
    std::string value;
    for (const std::string& name : options_.app.event_cookies) {
      if (FindCookie(cookies, name, &value)) {
        info.cookies.emplace_back(name, value);
      }
    }
  }
  return info;
}

void Worker::Impl::AppClose(WsConnection& con, uint16_t code,
                            absl::string_view reason) {
  if (con.app_closed) return;
  con.app_closed = true;
  std::vector<std::string> groups;
  if (app_.events()) {
    std::string group;
    membership_.ForEachChannelOf(&con, [&](const std::string& channel) {
      if (ParseBrokerChannel(channel, &group) == ChannelKind::kGroup) {
        groups.push_back(group);
      }
    });
  }
  app_.OnClose(&con, code, reason, groups);
}

void Worker::Impl::OnClose(WsConnection& con) {
  if (con.id == 0) return;
  // Keeps the connection alive through the bookkeeping below.
  auto it = conns_.find(con.id);
  if (it == conns_.end()) return;
  const ConnectionPtr keep = std::move(it->second);
  conns_.erase(it);
  if (con.json_framing) --json_connections_;
  AppClose(con,
           con.remote_close_code() != 0  ? con.remote_close_code()
           : con.local_close_code() != 0 ? con.local_close_code()
                                         : 1006,
           "");
  membership_.LeaveAll(&con);
  recoveries_.Forget(&con);
  admission_.ReleaseSlot(&con);
  stats_.connections.fetch_sub(1, std::memory_order_relaxed);
  Bump(stats_.connections_closed);
  if (con.remote_close_code() == ws_close::kMessageTooBig ||
      con.local_close_code() == ws_close::kMessageTooBig) {
    stats_.CountError("message_too_big");
  }
  // Logged after the bookkeeping: tests read /metrics once they see it.
  spdlog::debug("conn {} closed (local code {}, remote code {})", con.id,
                con.local_close_code(), con.remote_close_code());
  MaybeIdle();
}

void Worker::Impl::Close(const ConnectionPtr& con, uint16_t code,
                         const std::string& reason) {
  if (!con->is_open()) return;
  AppClose(*con, code, reason);
  membership_.LeaveAll(con.get());
  recoveries_.Forget(con.get());
  con->Close(code, reason);  // the connection owns its close deadline
}

ConnectionData* Worker::Impl::Find(uint64_t conn_id) {
  auto it = conns_.find(conn_id);
  return it == conns_.end() || !it->second->is_open() ? nullptr
                                                      : it->second.get();
}

void Worker::Impl::CloseConnection(uint64_t conn_id, uint16_t code,
                                   const std::string& reason) {
  auto it = conns_.find(conn_id);
  if (it != conns_.end()) Close(it->second, code, reason);
}

void Worker::Impl::Reply(uint64_t conn_id, const std::string& text) {
  auto it = conns_.find(conn_id);
  if (it == conns_.end() || !it->second->is_open()) return;
  // A client that does not read its replies (history pages, errors) is a
  // slow client like one that does not read its deliveries.
  if (it->second->buffered_amount() > options_.max_queued_bytes) {
    CloseSlow(it->second.get());
    return;
  }
  if (it->second->SendText(text)) Bump(stats_.bytes_out, text.size());
  if (it->second->drain_close && it->second->awaiting_replies == 0) {
    DrainClose(it->second);
  }
}

void Worker::Impl::OnMessage(const ConnectionPtr& con,
                             const std::string& payload, bool is_text) {
  // Only open connections deliver messages (WsConnection); one read after
  // our close frame is counted by events.message_after_close instead.
  if (dispatcher_.OnMessage(con.get(), payload, is_text, Clock::now()) ==
      CommandDispatcher::Verdict::kCloseRateLimited) {
    Close(con, ws_close::kPolicyViolation, "rate limit exceeded");
  }
}

}  // namespace channel
