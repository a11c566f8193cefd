#ifndef CHANNEL_TOOLS_BENCH_BROKER_CHANNEL_LOAD_H_
#define CHANNEL_TOOLS_BENCH_BROKER_CHANNEL_LOAD_H_

#include <string>

#include "tools/bench/common/load_shape.h"

namespace channel::bench {

// Runs `shape` against channel-broker at host:port with the C++ client
// library, every connection on the calling thread.
LoadResult RunChannelLoad(const std::string& host, int port,
                          const LoadShape& shape);

}  // namespace channel::bench

#endif  // CHANNEL_TOOLS_BENCH_BROKER_CHANNEL_LOAD_H_
