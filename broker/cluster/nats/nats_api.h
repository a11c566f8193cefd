#ifndef CHANNEL_BROKER_CLUSTER_NATS_NATS_API_H_
#define CHANNEL_BROKER_CLUSTER_NATS_NATS_API_H_

// libnats, loaded when the broker first needs it (--nats), not linked: a
// standalone broker never maps libnats nor the OpenSSL it pulls in (~1.8 MB
// of resident memory; docs/BENCHMARKS.md "Memory"). Call libnats as
// Nats().natsConnection_Publish(...): the same names and types as
// <nats/nats.h>, through pointers that LoadNats() resolved.
#include <nats/nats.h>

#include "absl/status/status.h"

namespace channel {

// Every libnats function the broker calls (add one here to use it).
#define CHANNEL_NATS_FUNCTIONS(X)         \
  X(jsConsumerInfo_Destroy)               \
  X(jsCtx_Destroy)                        \
  X(jsMsgMetaData_Destroy)                \
  X(jsOptions_Init)                       \
  X(jsPubOptions_Init)                    \
  X(jsStreamConfig_Init)                  \
  X(jsStreamInfo_Destroy)                 \
  X(jsSubOptions_Init)                    \
  X(js_AddStream)                         \
  X(js_GetStreamInfo)                     \
  X(js_PublishMsgAsync)                   \
  X(js_Subscribe)                         \
  X(js_UpdateStream)                      \
  X(natsConnection_Close)                 \
  X(natsConnection_Connect)               \
  X(natsConnection_Destroy)               \
  X(natsConnection_FlushTimeout)          \
  X(natsConnection_JetStream)             \
  X(natsConnection_Publish)               \
  X(natsConnection_Subscribe)             \
  X(natsMsgHeader_Get)                    \
  X(natsMsgHeader_Set)                    \
  X(natsMsg_Create)                       \
  X(natsMsg_Destroy)                      \
  X(natsMsg_GetData)                      \
  X(natsMsg_GetDataLength)                \
  X(natsMsg_GetMetaData)                  \
  X(natsMsg_GetSubject)                   \
  X(natsMsg_IsNoResponders)               \
  X(natsConnection_PublishRequest)        \
  X(natsOptions_Create)                   \
  X(natsOptions_Destroy)                  \
  X(natsOptions_SetDisconnectedCB)        \
  X(natsOptions_SetErrorHandler)          \
  X(natsOptions_SetMaxPingsOut)           \
  X(natsOptions_SetMaxReconnect)          \
  X(natsOptions_SetName)                  \
  X(natsOptions_SetNoEcho)                \
  X(natsOptions_SetPingInterval)          \
  X(natsOptions_SetReconnectJitter)       \
  X(natsOptions_SetReconnectWait)         \
  X(natsOptions_SetReconnectedCB)         \
  X(natsOptions_SetRetryOnFailedConnect)  \
  X(natsOptions_SetServers)               \
  X(natsOptions_SetToken)                 \
  X(natsOptions_SetUserInfo)              \
  X(natsOptions_UseGlobalMessageDelivery) \
  X(natsStatus_GetText)                   \
  X(natsSubscription_Destroy)             \
  X(natsSubscription_GetConsumerInfo)     \
  X(natsSubscription_GetSubject)          \
  X(natsSubscription_SetPendingLimits)    \
  X(natsSubscription_Unsubscribe)         \
  X(nats_CloseAndWait)                    \
  X(nats_GetLastError)

struct NatsApi {
#define CHANNEL_NATS_POINTER(name) decltype(&::name) name = nullptr;
  CHANNEL_NATS_FUNCTIONS(CHANNEL_NATS_POINTER)
#undef CHANNEL_NATS_POINTER
};

// Loads libnats (its soname, CHANNEL_LIBNATS_SONAME, from the build's
// libnats) and resolves every function above; later calls return the
// first result. Thread-safe. An error names the library and what failed.
absl::Status LoadNats();

// The loaded functions. Only after LoadNats() returned OK.
const NatsApi& Nats();

}  // namespace channel

#endif  // CHANNEL_BROKER_CLUSTER_NATS_NATS_API_H_
