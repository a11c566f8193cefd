<?php
// The seed program's chat, its logic in PHP, its sockets in ws-gateway
// (README.md in this folder). Browsers send custom commands:
//   {"cmd":"join","room":"123","id":1}            the backend approves rooms
//   {"cmd":"chat","room":"123","text":"hi","id":2} stored, then sent to the room
// Every event is printed as one line: "<type> <client> [<detail>]".
//
//   php backend.php [BROKER_HOST:PORT] [CHAT_LOG]
declare(strict_types=1);
require __DIR__ . '/ChannelClient.php';

[$host, $port] = explode(':', $argv[1] ?? '127.0.0.1:2206');
$log = $argv[2] ?? sys_get_temp_dir() . '/channel-chat.log';
$channel = new ChannelClient($host, (int)$port);

// An action on the connection `client`, sent to its gateway worker's node
// channel: what precedes the last '.' of its id.
function act(ChannelClient $channel, string $client, array $action): void {
  $node = substr($client, 0, strrpos($client, '.'));
  $channel->publish('app:node:' . $node, json_encode(['client' => $client] + $action));
}

function reply(ChannelClient $channel, array $event, array $answer): void {
  if (!isset($event['request'])) return;  // the command had no id
  act($channel, $event['client'], ['action' => 'reply', 'request' => $event['request']] + $answer);
}

// Watched, not subscribed: several backend.php processes (on one broker
// or several) share the connections, each connection's events at one.
$channel->watch('app:events', function (string $json) use ($channel, $log): void {
  $event = json_decode($json, true);
  $client = $event['client'] ?? '';
  switch ($event['type']) {
    case 'message':
      $command = $event['command'];
      $room = (string)($command['room'] ?? '');
      echo "message $client {$command['cmd']} $room\n";
      if (!preg_match('/^[a-z0-9-]{1,32}$/', $room)) {
        reply($channel, $event, ['error' => 'bad_room', 'message' => 'rooms are a-z, 0-9 and -']);
        break;
      }
      if ($command['cmd'] === 'join') {
        act($channel, $client, ['action' => 'join', 'group_id' => $room]);
        reply($channel, $event, ['data' => ['room' => $room]]);
      } elseif ($command['cmd'] === 'chat') {
        $line = json_encode(['from' => $client, 'text' => (string)($command['text'] ?? '')]);
        file_put_contents($log, "$room $line\n", FILE_APPEND);  // stored first
        $channel->publish('group:' . $room, $line);
        reply($channel, $event, ['data' => ['stored' => true]]);
      } else {
        reply($channel, $event, ['error' => 'unknown', 'message' => 'join or chat']);
      }
      break;
    case 'close':
      echo "close $client {$event['code']}\n";
      break;
    default:
      echo "{$event['type']} " . ($client !== '' ? $client : ($event['group'] ?? '')) . "\n";
  }
});
fwrite(STDERR, "backend ready\n");
$channel->loop();
