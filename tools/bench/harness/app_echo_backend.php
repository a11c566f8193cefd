<?php
// The backend of tools/bench/app-bench.sh's "command" shape: answers every
// custom command that has a request with {"data":{"n":N}}, through the
// Channel protocol (examples/php-chat/ChannelClient.php).
//
//   php app_echo_backend.php BROKER_HOST:PORT
declare(strict_types=1);
require __DIR__ . '/../../../examples/php-chat/ChannelClient.php';

[$host, $port] = explode(':', $argv[1]);
$channel = new ChannelClient($host, (int)$port);
$channel->on('app:events', function (string $json) use ($channel): void {
  $event = json_decode($json, true);
  if (($event['type'] ?? '') !== 'message' || !isset($event['request'])) return;
  $client = $event['client'];
  $node = substr($client, 0, strrpos($client, '.'));
  $channel->publish('app:node:' . $node, json_encode([
    'action' => 'reply', 'client' => $client, 'request' => $event['request'],
    'data' => ['n' => $event['command']['n'] ?? 0]]));
});
fwrite(STDERR, "backend ready\n");
$channel->loop();
