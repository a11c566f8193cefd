<?php
// The part of Workerman's Channel\Client (walkor/channel) this example
// uses, speaking the same wire protocol (frames of PHP serialize() arrays on
// TCP 2206) with blocking stream sockets, so that the example runs with
// php-cli alone. With Workerman installed, use Channel\Client itself:
//
//   Channel\Client::connect('127.0.0.1', 2206);
//   Channel\Client::watch('app:events', function ($json) { ... });
//   Channel\Client::publish('app:node:' . $node, json_encode($action));
//
// The calls below have the same names and meaning.
declare(strict_types=1);

final class ChannelClient {
  private $socket;
  private array $handlers = [];
  private array $watchers = [];

  public function __construct(string $host, int $port) {
    $this->socket = stream_socket_client("tcp://$host:$port", $errno, $error, 5);
    if (!$this->socket) {
      throw new RuntimeException("cannot reach the broker at $host:$port: $error");
    }
  }

  // Channel\Client::on: $handler gets each event's data of $channel.
  public function on(string $channel, callable $handler): void {
    $this->handlers[$channel] = $handler;
    $this->send(['type' => 'subscribe', 'channels' => [$channel]]);
  }

  // Channel\Client::watch: $handler gets the items of work queue $queue,
  // each at one watcher; `app:events` shares the application's events
  // between the PHP processes watching it, one connection's at one. Like
  // Channel\Client's autoReserve, it says `reserve` after each item.
  public function watch(string $queue, callable $handler): void {
    $this->watchers[$queue] = $handler;
    $this->send(['type' => 'watch', 'channels' => [$queue]]);
    $this->send(['type' => 'reserve']);
  }

  // Channel\Client::publish.
  public function publish(string $channel, $data): void {
    $this->send(['type' => 'publish', 'channels' => [$channel], 'data' => $data]);
  }

  // Workerman's event loop, for this client only: runs handlers until the
  // broker closes the connection.
  public function loop(): void {
    while (($body = $this->frame()) !== null) {
      if ($body === '') continue;  // heartbeat
      $event = unserialize($body, ['allowed_classes' => false]);
      if (!is_array($event)) continue;
      $type = $event['type'] ?? '';
      if ($type === 'event') {
        $handler = $this->handlers[$event['channel']] ?? null;
        if ($handler !== null) $handler($event['data']);
      } elseif ($type === 'queue') {
        $handler = $this->watchers[$event['channel']] ?? null;
        if ($handler === null) continue;
        $handler($event['data']);
        $this->send(['type' => 'reserve']);
      }
    }
  }

  private function send(array $message): void {
    $body = serialize($message);
    $frame = pack('N', 4 + strlen($body)) . $body;
    for ($off = 0; $off < strlen($frame); $off += $n) {
      $n = fwrite($this->socket, substr($frame, $off));
      if ($n === false || $n === 0) throw new RuntimeException('broker gone');
    }
  }

  private function frame(): ?string {
    $head = $this->exactly(4);
    if ($head === null) return null;
    $length = unpack('N', $head)[1];
    return $length <= 4 ? '' : $this->exactly($length - 4);
  }

  private function exactly(int $n): ?string {
    $out = '';
    while (strlen($out) < $n) {
      $chunk = fread($this->socket, $n - strlen($out));
      if ($chunk === false || $chunk === '') {
        if (feof($this->socket)) return null;
        continue;
      }
      $out .= $chunk;
    }
    return $out;
  }
}
