// JSON command parsing (RapidJSON) per client frame: the gateway's per-message
// parse cost. Speed is reported, never asserted.
#include <string>

#include "benchmark/benchmark.h"
#include "gateway/commands/command.h"

namespace channel {
namespace {

void BM_ParseCommand(benchmark::State& state, const std::string& json) {
  CommandLimits limits;
  for (auto _ : state) {
    absl::StatusOr<Command> command = ParseCommand(json, limits);
    benchmark::DoNotOptimize(command.ok());
    if (command.ok()) benchmark::DoNotOptimize(command->message.data());
  }
  state.SetBytesProcessed(state.iterations() * json.size());
}

BENCHMARK_CAPTURE(
    BM_ParseCommand, seed_send_to_group,
    std::string(
        R"({"cmd":"send_to_group","group_id":"123","message":"Esta é a mensagem"})"));
BENCHMARK_CAPTURE(BM_ParseCommand, add_group_int,
                  std::string(R"({"cmd":"add_group","group_id":123,"id":7})"));
BENCHMARK_CAPTURE(BM_ParseCommand, send_1kib_string,
                  R"({"cmd":"send_to_group","group_id":"g","message":")" +
                      std::string(1024, 'x') + R"("})");
BENCHMARK_CAPTURE(
    BM_ParseCommand, send_object_message,
    std::string(
        R"({"cmd":"send_to_group","group_id":"g","message":{"user":"ana","text":"hi","tags":[1,2,3]}})"));
BENCHMARK_CAPTURE(BM_ParseCommand, invalid_json,
                  std::string(R"({"cmd":"send_to_group","group_id":)"));

}  // namespace
}  // namespace channel

BENCHMARK_MAIN();
