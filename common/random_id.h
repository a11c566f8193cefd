#ifndef CHANNEL_COMMON_RANDOM_ID_H_
#define CHANNEL_COMMON_RANDOM_ID_H_

#include <string>

namespace channel {

// A process's id (a broker's, a gateway's): 16 lowercase hex digits from
// std::random_device, new at every start, so that a peer can tell a
// restarted process from the one it knew. Not a secret.
std::string RandomId();

}  // namespace channel

#endif  // CHANNEL_COMMON_RANDOM_ID_H_
