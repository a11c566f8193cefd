// channel-cli: publish to and subscribe on a channel-broker from a shell.
//
//   channel-cli publish CHANNEL MESSAGE
//   channel-cli publish-group GROUP MESSAGE   (the channel group:GROUP)
//   channel-cli publish-user USER MESSAGE     (user:USER: every connection of
//                                              that user on every gateway)
//   channel-cli subscribe CHANNEL...     prints "CHANNEL<TAB>PAYLOAD" per event
//   channel-cli presence GROUP           prints "connections users" of a
//                                        ws-gateway group, over all gateways
//   channel-cli members GROUP            prints "USER<TAB>INFO" per member of
//                                        a presence group (--presence)
//   channel-cli history GROUP            prints "OFFSET<TAB>MESSAGE" per kept
//                                        message of a history group, oldest
//                                        first (--limit, --before)
//   channel-cli events                   prints the application events of
//                                        ws-gateways (--events) as JSON
//                                        lines, sharing them with the other
//                                        members of --queue_group
//   channel-cli client ACTION ID [ARG..] acts on connection ID: send ID MSG,
//                                        join|leave ID GROUP, bind ID USER,
//                                        close ID [CODE [REASON]], info ID;
//                                        prints the gateway's result
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "asio/io_context.hpp"
#include "asio/signal_set.hpp"
#include "asio/steady_timer.hpp"
#include "client/broker_client.h"
#include "common/app/action_json.h"
#include "common/channel_names.h"
#include "common/host_port.h"
#include "common/logging/logging.h"
#include "common/ops/flags_env.h"
#include "common/presence/member_json.h"
#include "common/presence/presence_rules.h"
#include "common/random_id.h"

ABSL_FLAG(std::string, broker, "127.0.0.1:2206",
          "Broker address, HOST:PORT; several as HOST:PORT,HOST:PORT.");
ABSL_FLAG(std::string, auth_token, "",
          "Broker auth token (or CHANNEL_AUTH_TOKEN in the environment).");
ABSL_FLAG(uint32_t, timeout_ms, 5000,
          "publish: give up when the broker has not confirmed within this "
          "time. subscribe: give up if the first connection takes longer.");
ABSL_FLAG(uint64_t, count, 0,
          "subscribe: exit 0 after this many events (0: run until "
          "interrupted).");
ABSL_FLAG(uint32_t, limit, 50,
          "history: the last LIMIT messages (the broker caps it at its "
          "--history_recover_max).");
ABSL_FLAG(uint64_t, before, 0,
          "history: messages before this offset (0: the newest).");
ABSL_FLAG(std::string, queue_group, "backend",
          "events: the queue group to join (each event reaches one member "
          "of it, one connection's events the same member); empty: see "
          "every event without taking any from the group.");
ABSL_FLAG(bool, json, false,
          "client send: MESSAGE is JSON (sent as a value), not text.");
ABSL_FLAG(std::string, log_level, "warn", "Log level of the client library.");

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: channel-cli [flags] publish CHANNEL MESSAGE\n"
               "       channel-cli [flags] publish-group GROUP MESSAGE\n"
               "       channel-cli [flags] publish-user USER MESSAGE\n"
               "       channel-cli [flags] subscribe CHANNEL...\n"
               "       channel-cli [flags] presence GROUP\n"
               "       channel-cli [flags] members GROUP\n"
               "       channel-cli [flags] history GROUP\n"
               "       channel-cli [flags] events\n"
               "       channel-cli [flags] client send ID MESSAGE\n"
               "       channel-cli [flags] client join|leave ID GROUP\n"
               "       channel-cli [flags] client bind ID USER\n"
               "       channel-cli [flags] client close ID [CODE [REASON]]\n"
               "       channel-cli [flags] client info ID\n"
               "see channel-cli --help for flags\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = channel::ParseFlagsWithEnvironment(
      argc, argv,
      "publish to or subscribe on a channel-broker.\n"
      "  channel-cli publish CHANNEL MESSAGE\n"
      "  channel-cli publish-group GROUP MESSAGE   (to ws-gateway group "
      "GROUP)\n"
      "  channel-cli publish-user USER MESSAGE     (to every connection of a\n"
      "                                             user authenticated by "
      "token)\n"
      "  channel-cli subscribe CHANNEL...\n"
      "  channel-cli presence GROUP                (members over all "
      "gateways)\n"
      "  channel-cli members GROUP                 (who is in a presence "
      "group: USER<TAB>INFO)\n"
      "  channel-cli history GROUP                 (kept messages of a "
      "history group)\n"
      "  channel-cli events                        (application events, "
      "--queue_group)\n"
      "  channel-cli client ACTION ID [ARG...]     (act on a connection)");
  if (absl::Status s =
          channel::InitLogging("cli", absl::GetFlag(FLAGS_log_level));
      !s.ok()) {
    std::fprintf(stderr, "channel-cli: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (args.size() < 2) return Usage();
  const std::string command = args[1];
  if (args.size() < 3 && command != "events") return Usage();

  channel::BrokerClientOptions options;
  auto brokers = channel::ParseHostPorts(absl::GetFlag(FLAGS_broker));
  if (!brokers.ok()) {
    std::fprintf(stderr,
                 "channel-cli: --broker must be HOST:PORT[,HOST:PORT...]: %s\n",
                 std::string(brokers.status().message()).c_str());
    return 2;
  }
  options.host = (*brokers)[0].first;
  options.port = (*brokers)[0].second;
  if (brokers->size() > 1) options.endpoints = *std::move(brokers);
  options.auth_token = absl::GetFlag(FLAGS_auth_token);
  options.client_name = "channel-cli";
  options.connect_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_timeout_ms));

  asio::io_context io(1);
  channel::BrokerClient client(io, options);
  int exit_code = 0;
  asio::steady_timer deadline(io);
  deadline.expires_after(
      std::chrono::milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
  deadline.async_wait([&](const std::error_code& ec) {
    if (ec) return;
    std::fprintf(stderr, "channel-cli: no answer from %s within %u ms\n",
                 absl::GetFlag(FLAGS_broker).c_str(),
                 absl::GetFlag(FLAGS_timeout_ms));
    exit_code = 1;
    client.Stop();
    io.stop();
  });
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code& ec, int) {
    if (ec) return;
    client.Stop();
    io.stop();
  });

  // The handlers below run inside io.run(): what they use lives here, for
  // the whole of main.
  std::string channel_name, message, group;
  std::vector<std::string> channels;
  bool sent = false, asked = false;
  bool listed = false;  // members: the list came
  const uint64_t count = absl::GetFlag(FLAGS_count);
  uint64_t seen = 0;
  // subscribe and events: prints every event until --count, says when the
  // link is up (`banner`) or lost.
  std::string banner;
  auto stream_events = [&](bool with_channel) {
    client.set_state_handler([&](bool connected, absl::string_view reason) {
      if (connected) {
        deadline.cancel();
        std::fprintf(stderr, "%s\n", banner.c_str());
      } else {
        std::fprintf(stderr, "link lost (%.*s); reconnecting\n",
                     static_cast<int>(reason.size()), reason.data());
      }
    });
    client.set_event_handler([&, with_channel](channel::v1::Event& event) {
      if (with_channel) {
        std::printf("%s\t%s\n", event.channel().c_str(),
                    event.payload().c_str());
      } else {
        std::printf("%s\n", event.payload().c_str());
      }
      std::fflush(stdout);
      if (count != 0 && ++seen >= count) {
        client.Stop();
        io.stop();
      }
    });
  };
  if (command == "publish" || command == "publish-group" ||
      command == "publish-user") {
    if (args.size() != 4) return Usage();
    channel_name = command == "publish-group"  ? channel::GroupChannel(args[2])
                   : command == "publish-user" ? channel::UserChannel(args[2])
                                               : args[2];
    message = args[3];
    client.set_state_handler([&](bool connected, absl::string_view) {
      if (!connected || sent) return;
      sent = true;
      absl::Status s = client.Publish(
          {channel_name}, message, nullptr,
          [&](const absl::Status& status, uint64_t receivers) {
            if (status.ok()) {
              std::printf("%llu\n", static_cast<unsigned long long>(receivers));
            } else {
              std::fprintf(stderr, "channel-cli: %s\n",
                           std::string(status.message()).c_str());
              exit_code = 1;
            }
            client.Stop();
            io.stop();
          });
      if (!s.ok()) {
        std::fprintf(stderr, "channel-cli: %s\n",
                     std::string(s.message()).c_str());
        exit_code = 1;
        io.stop();
      }
    });
  } else if (command == "presence") {
    if (args.size() != 3) return Usage();
    group = args[2];
    client.set_state_handler([&](bool connected, absl::string_view) {
      if (!connected || asked) return;
      asked = true;
      client.QueryPresence(group, [&](const absl::Status& status,
                                      uint64_t connections, uint64_t users) {
        if (status.ok()) {
          std::printf("connections %llu users %llu\n",
                      static_cast<unsigned long long>(connections),
                      static_cast<unsigned long long>(users));
        } else {
          std::fprintf(stderr, "channel-cli: %s\n",
                       std::string(status.message()).c_str());
          exit_code = 1;
        }
        client.Stop();
        io.stop();
      });
    });
  } else if (command == "members") {
    // The broker sends a presence group's member list to a new subscriber
    // before its Ack (docs/PROTOCOL.md "Presence members").
    if (args.size() != 3) return Usage();
    group = args[2];
    client.set_event_handler([&](channel::v1::Event& event) {
      if (event.meta().payload_codec() != channel::kMembersCodec) return;
      absl::StatusOr<channel::MemberList> list = channel::ParseMemberList(
          event.payload(), channel::PresenceRules::kMaxMembers);
      if (!list.ok()) return;
      listed = true;
      for (const auto& [user, info] : *list) {
        std::printf("%s\t%s\n", user.c_str(), info.c_str());
      }
    });
    client.set_state_handler([&](bool connected, absl::string_view) {
      if (!connected || asked) return;
      asked = true;
      client.Subscribe(
          {channel::GroupChannel(group)},
          [&](const absl::Status& status, uint64_t) {
            if (!status.ok() || !listed) {
              std::fprintf(stderr, "channel-cli: %s\n",
                           status.ok() ? "this group keeps no member list "
                                         "(no --presence rule matches it)"
                                       : std::string(status.message()).c_str());
              exit_code = 1;
            }
            client.Stop();
            io.stop();
          });
    });
  } else if (command == "history") {
    if (args.size() != 3) return Usage();
    group = args[2];
    client.set_state_handler([&](bool connected, absl::string_view) {
      if (!connected || asked) return;
      asked = true;
      channel::v1::HistoryQuery query;
      query.set_channel(channel::GroupChannel(group));
      query.set_limit(absl::GetFlag(FLAGS_limit));
      query.set_before(absl::GetFlag(FLAGS_before));
      client.QueryHistory(query, [&](const absl::Status& status,
                                     channel::v1::HistoryReply* reply) {
        if (status.ok()) {
          for (const channel::v1::Event& e : reply->events()) {
            std::printf("%llu\t%s\n",
                        static_cast<unsigned long long>(e.offset()),
                        e.payload().c_str());
          }
          std::fprintf(
              stderr, "epoch %s, last offset %llu%s\n",
              reply->position().epoch().c_str(),
              static_cast<unsigned long long>(reply->position().offset()),
              reply->truncated() ? " (truncated)" : "");
        } else {
          std::fprintf(stderr, "channel-cli: %s\n",
                       std::string(status.message()).c_str());
          exit_code = 1;
        }
        client.Stop();
        io.stop();
      });
    });
  } else if (command == "events") {
    if (args.size() != 2) return Usage();
    const std::string queue = absl::GetFlag(FLAGS_queue_group);
    channels = {channel::kAppEventsChannel};
    if (queue.empty()) {
      client.Subscribe(channels);
    } else {
      client.SubscribeQueue(queue, channels);
    }
    banner = queue.empty() ? "receiving application events"
                           : "receiving application events as a member of "
                             "queue group " +
                                 queue;
    stream_events(/*with_channel=*/false);
  } else if (command == "client") {
    // The result comes back on an inbox of this process's own.
    channel::ActionRequest action;
    if (args.size() < 4) return Usage();
    action.action = args[2];
    action.client = args[3];
    const size_t extra = args.size() - 4;
    if (action.action == "send" && extra == 1) {
      action.message = args[4];
      action.message_is_json = absl::GetFlag(FLAGS_json);
    } else if ((action.action == "join" || action.action == "leave") &&
               extra == 1) {
      action.group = args[4];
    } else if (action.action == "bind" && extra == 1) {
      action.user = args[4];
    } else if (action.action == "close" && extra <= 2) {
      if (extra >= 1 && !absl::SimpleAtoi(args[4], &action.code)) {
        return Usage();
      }
      if (extra == 2) action.reason = args[5];
    } else if (!(action.action == "info" && extra == 0)) {
      return Usage();
    }
    action.reply_to = "app:reply:" + channel::RandomId();
    action.ref = "cli";
    absl::StatusOr<std::string> text = channel::ActionJson(action);
    if (!text.ok()) {
      std::fprintf(stderr, "channel-cli: %s\n",
                   std::string(text.status().message()).c_str());
      return 2;
    }
    message = *std::move(text);
    channel_name = channel::AppNodeChannel(channel::ClientNode(action.client));
    client.Subscribe({action.reply_to});
    client.set_event_handler([&](channel::v1::Event& event) {
      std::printf("%s\n", event.payload().c_str());
      if (event.payload().find("\"ok\":true") == std::string::npos) {
        exit_code = 1;
      }
      client.Stop();
      io.stop();
    });
    client.set_state_handler([&](bool connected, absl::string_view) {
      if (!connected || sent) return;
      sent = true;
      absl::Status s = client.Publish(
          {channel_name}, message, nullptr,
          [&](const absl::Status& status, uint64_t receivers) {
            if (status.ok() && receivers > 0) return;  // the result follows
            std::fprintf(stderr, "channel-cli: %s\n",
                         status.ok() ? "no gateway holds this client's node "
                                       "(it closed, or its gateway is gone)"
                                     : std::string(status.message()).c_str());
            exit_code = 1;
            client.Stop();
            io.stop();
          });
      if (!s.ok()) {
        std::fprintf(stderr, "channel-cli: %s\n",
                     std::string(s.message()).c_str());
        exit_code = 1;
        io.stop();
      }
    });
  } else if (command == "subscribe") {
    channels.assign(args.begin() + 2, args.end());
    client.Subscribe(channels);  // held across reconnects
    banner = "subscribed to " + std::to_string(channels.size()) + " channel(s)";
    stream_events(/*with_channel=*/true);
  } else {
    return Usage();
  }
  client.Start();
  io.run();
  return exit_code;
}
