#ifndef CHANNEL_GATEWAY_AUTH_AUTHENTICATOR_H_
#define CHANNEL_GATEWAY_AUTH_AUTHENTICATOR_H_

#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "gateway/auth/token_verifier.h"
#include "gateway/commands/command.h"
#include "gateway/connection_data.h"
#include "gateway/fanout/membership.h"
#include "gateway/gateway_options.h"
#include "gateway/worker_stats.h"

namespace channel {

// WebSocket close codes of token authentication (docs/CLIENT-PROTOCOL.md).
inline constexpr uint16_t kCloseAuthFailed = 4001;
inline constexpr uint16_t kCloseAuthTimeout = 4002;
inline constexpr uint16_t kCloseTokenExpired = 4003;

// Who may connect, join and send, for one worker's connections, when the
// gateway verifies tokens (--token_hmac_secret / --token_public_key):
// authentication by ?token= or {"cmd":"auth"} within --auth_timeout_ms,
// refresh for the same user, permission checks at join and send (never per
// delivery), join tokens, and the deadlines (auth timeout, token expiry,
// join token expiry) kept in one min-heap with at most one entry per
// connection per deadline kind, so a peer cannot grow it. Same thread as
// its worker.
class Authenticator {
 public:
  // What the authenticator needs of its worker.
  class Host {
   public:
    virtual ~Host() = default;
    virtual ConnectionData* Find(uint64_t conn_id) = 0;
    virtual void Reply(uint64_t conn_id, const std::string& text) = 0;
    virtual void CloseConnection(uint64_t conn_id, uint16_t code,
                                 const std::string& reason) = 0;
  };
  using UnixNow = std::function<int64_t()>;  // milliseconds since the epoch

  Authenticator(const GatewayOptions& options, const TokenVerifier* verifier,
                Membership* membership, WorkerStats* stats, Host* host,
                UnixNow now = nullptr);

  // Tokens are required (a key is configured).
  bool required() const { return verifier_ != nullptr && verifier_->enabled(); }

  // A connection opened; `url_token` is its ?token= (may be empty).
  void OnOpen(ConnectionData* con, absl::string_view url_token);
  // {"cmd":"auth","token":...}: first authentication or refresh.
  void OnAuth(ConnectionData* con, const Command& command);
  // Before any other command: false (and an error reply) while the
  // connection has not authenticated.
  bool CheckAuthenticated(ConnectionData* con, const Command& command);
  // add_group: the token's groups, or a join token for this user and group.
  // false: refused with an error reply.
  bool MayJoin(ConnectionData* con, const Command& command);
  // send_to_group / send_to_all. `joined`: con is a member of the group.
  bool MaySend(ConnectionData* con, const Command& command, bool joined);

  // The connection left `group` (a join token's deadline then ends nothing).
  void OnLeave(ConnectionData* con, const std::string& group);

  // presence: for groups the token lets the user join (or it is in).
  bool MayQueryPresence(ConnectionData* con, const Command& command,
                        bool joined) {
    return MayRead(con, command, joined, "presence");
  }
  // history: the same as presence (the same permissions as a join).
  bool MayReadHistory(ConnectionData* con, const Command& command,
                      bool joined) {
    return MayRead(con, command, joined, "history");
  }

  // Applies the deadlines that are due. Called by the worker's sweep.
  void Sweep();

 private:
  bool MayRead(ConnectionData* con, const Command& command, bool joined,
               absl::string_view what);
  enum class Kind { kAuth, kToken, kJoin };
  struct Deadline {
    int64_t at_ms;
    uint64_t conn_id;
    Kind kind;
    std::string group;  // kJoin
    bool operator>(const Deadline& o) const { return at_ms > o.at_ms; }
  };

  bool Authenticate(ConnectionData* con, absl::string_view token,
                    const std::string& id_json);
  void Refused(ConnectionData* con, const std::string& id_json,
               absl::string_view command, const std::string& group,
               absl::string_view why);
  void Push(Deadline d) { deadlines_.push(std::move(d)); }

  const GatewayOptions& options_;
  const TokenVerifier* const verifier_;
  Membership* const membership_;
  WorkerStats* const stats_;
  Host* const host_;
  const UnixNow now_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>>
      deadlines_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_AUTH_AUTHENTICATOR_H_
