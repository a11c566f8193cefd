#ifndef CHANNEL_TOOLS_BENCH_BROKER_REDIS_LOAD_H_
#define CHANNEL_TOOLS_BENCH_BROKER_REDIS_LOAD_H_

#include <string>

#include "tools/bench/common/load_shape.h"

namespace channel::bench {

// Runs `shape` against redis-server PUBLISH/SUBSCRIBE at host:port: the same
// connections, window and payloads as RunChannelLoad. RESP is parsed by
// hiredis's reader; sockets are Asio on the calling thread.
LoadResult RunRedisLoad(const std::string& host, int port,
                        const LoadShape& shape);

}  // namespace channel::bench

#endif  // CHANNEL_TOOLS_BENCH_BROKER_REDIS_LOAD_H_
