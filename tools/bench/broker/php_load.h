#ifndef CHANNEL_TOOLS_BENCH_BROKER_PHP_LOAD_H_
#define CHANNEL_TOOLS_BENCH_BROKER_PHP_LOAD_H_

#include <string>

#include "tools/bench/common/load_shape.h"

namespace channel::bench {

// Runs `shape` against channel-broker at host:port as Workerman Channel
// (PHP codec) clients: the frames Channel\Client sends, PHP strings as
// payloads. The PHP protocol has no acknowledgements, so each publisher
// also publishes a marker to a channel only it holds after every
// window/2 publishes; the marker's return acknowledges them (+2/window
// extra events, not counted as deliveries).
LoadResult RunPhpLoad(const std::string& host, int port,
                      const LoadShape& shape);

}  // namespace channel::bench

#endif  // CHANNEL_TOOLS_BENCH_BROKER_PHP_LOAD_H_
