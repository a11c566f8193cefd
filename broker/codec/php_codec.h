#ifndef CHANNEL_BROKER_CODEC_PHP_CODEC_H_
#define CHANNEL_BROKER_CODEC_PHP_CODEC_H_

#include <string>
#include <vector>

#include "broker/codec/session_codec.h"
#include "broker/php/work_queues.h"
#include "common/php/php_serialize.h"

namespace channel {

class Session;

// Workerman Channel's codec (walkor/channel v1.2.3, Channel\\Server): frame
// bodies are PHP serialize() arrays ['type'=>..., 'channels'=>[...],
// 'data'=>...]. Commands: subscribe, unsubscribe, publish, publishLoop,
// watch, unwatch, enqueue, reserve; unknown types are ignored and counted.
// The PHP protocol has no handshake, no errors and no heartbeats from the
// server: a request the broker refuses is logged and counted, a malformed
// body closes the connection (log and counter), and the peer's own
// heartbeats keep it alive (--php_idle_timeout_ms).
//
// Channel names: i:123; and s:3:"123"; are one channel ("123"). Payload
// mapping (docs/PROTOCOL.md): a PHP string travels as its bytes; any other
// value as its serialize() text marked payload_codec "php", which PHP
// subscribers receive as it came (no re-serialisation).
class PhpCodec : public SessionCodec, public WorkQueues::Consumer {
 public:
  explicit PhpCodec(Session* session) : session_(session) {}

  absl::string_view name() const override { return "php"; }
  void OnBody(absl::string_view body) override;
  const SharedFrame& EventFrame(OutgoingEvent& event) override {
    return event.PhpFrame();
  }
  // A watcher of kAppEventsChannel gets its events as work-queue items
  // (['type'=>'queue', ...]): what Channel\Client::watch calls back with.
  SharedFrame QueuedEventFrame(OutgoingEvent& event,
                               const std::string& group) override;

  // `watch('app:events')` makes a PHP connection a member of this queue
  // group of kAppEventsChannel (docs/PROTOCOL.md "Application events"):
  // PHP backends share the events, one connection's at one of them.
  static constexpr const char* kWatchGroup = "php";
  // PHP clients cannot parse an error: the connection just closes.
  SharedFrame CloseFrame(v1::Error::Code, absl::string_view) override {
    return nullptr;
  }
  void OnClose() override;

  // WorkQueues::Consumer.
  bool SendQueueItem(absl::string_view queue, absl::string_view data) override;

 private:
  // Reads 'channels' into channels_ (names as text); false if malformed.
  bool ReadChannels(const PhpValue& body);
  void Publish(const PhpValue& body, bool loop);
  void Refused(absl::string_view type, absl::string_view why);
  // watch / unwatch of kAppEventsChannel: queue group kWatchGroup.
  absl::Status WatchEvents(bool watch);

  Session* const session_;
  PhpValue body_;  // the frame OnBody handles: views into its body
  std::vector<std::string> channels_;
  v1::Publish publish_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_CODEC_PHP_CODEC_H_
