#ifndef CHANNEL_TOOLS_BENCH_WS_SCENARIO_PARAMS_H_
#define CHANNEL_TOOLS_BENCH_WS_SCENARIO_PARAMS_H_

// What ws-loadgen's scenarios read of its flags (ws_loadgen.cc fills it;
// the flags' help says what each means).
namespace channel::bench::ws {

struct ScenarioParams {
  int connections = 0;
  int cycles = 0;
  int groups = 0;
  int members = 0;
  int messages = 0;
  int payload = 0;
  int rate = 0;
  int seconds = 0;
  int senders = 0;
  int window = 0;
};

}  // namespace channel::bench::ws

#endif  // CHANNEL_TOOLS_BENCH_WS_SCENARIO_PARAMS_H_
