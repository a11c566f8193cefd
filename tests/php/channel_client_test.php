<?php
// Workerman Channel clients for the broker's PHP codec tests: frames built
// with PHP's own serialize() and read back with unserialize(), over plain
// stream sockets, exactly as Channel\Client does (walkor/channel v1.2.3).
// Run by tests/broker/php_codec_test.cc and tests/gateway/php_bridge_test.cc:
//
//   php channel_client_test.php MODE PORT [ARGS...]
//
// Progress and results go to stderr, one line each; a failed check prints
// "FAIL: ..." and exits 1; success prints "OK" and exits 0. Every wait has
// a deadline (stream timeouts); none sleeps.
declare(strict_types=1);

function say(string $line): void { fwrite(STDERR, $line . "\n"); }
function fail(string $msg): void { say("FAIL: $msg"); exit(1); }
function check(bool $cond, string $msg): void { if (!$cond) fail($msg); }

final class Conn {
  public $s;
  public function __construct(int $port) {
    $this->s = @stream_socket_client("tcp://127.0.0.1:$port", $errno, $err, 5);
    if (!$this->s) fail("connect: $err");
    stream_set_timeout($this->s, 5);
  }
  public function raw(string $bytes): bool {
    $off = 0;
    while ($off < strlen($bytes)) {
      $n = @fwrite($this->s, substr($bytes, $off));
      if ($n === false || $n === 0) return false;
      $off += $n;
    }
    return true;
  }
  public static function frame(string $body): string {
    return pack('N', 4 + strlen($body)) . $body;
  }
  public function send(array $a): void {
    check($this->raw(self::frame(serialize($a))), 'send failed');
  }
  private function exactly(int $n): ?string {
    $out = '';
    while (strlen($out) < $n) {
      $chunk = fread($this->s, $n - strlen($out));
      if ($chunk === false || $chunk === '') {
        return null;  // EOF or timeout
      }
      $out .= $chunk;
    }
    return $out;
  }
  // Next frame body, or null on EOF / timeout.
  public function body(): ?string {
    $h = $this->exactly(4);
    if ($h === null) return null;
    $n = unpack('N', $h)[1];
    check($n >= 4, "bad length $n from the broker");
    return $n === 4 ? '' : $this->exactly($n - 4);
  }
  public function read(): array {
    $b = $this->body();
    check($b !== null, 'no frame from the broker');
    check($b !== '', 'the broker sent a heartbeat (PHP cannot parse it)');
    $v = unserialize($b, ['allowed_classes' => false]);
    check(is_array($v), "unparsable body: $b");
    return $v;
  }
  public function eof(): bool {
    while (true) {
      $b = @fread($this->s, 65536);
      if ($b === false || $b === '') return feof($this->s);
    }
  }
}

function event(Conn $c, string $type = 'event'): array {
  $e = $c->read();
  check(($e['type'] ?? '') === $type, 'want a ' . $type . ', got ' . json_encode($e));
  return $e;
}

// A marker `c` publishes to itself on a channel only it holds: the broker
// handles one connection's frames in order, so once the marker is back,
// everything `c` sent before has been handled, and nothing published to
// `c` before can still be on its way.
function sync(Conn $c, int $port, string $name): void {
  $c->send(['type' => 'subscribe', 'channels' => [$name]]);
  $c->send(['type' => 'publish', 'channels' => [$name], 'data' => 'marker']);
  $e = event($c);
  check($e['channel'] === $name && $e['data'] === 'marker',
        'expected the marker, got ' . json_encode($e));
}

$mode = $argv[1] ?? '';
$port = (int)($argv[2] ?? 0);

switch ($mode) {
case 'frames':
  // The documented bytes (shared/workerman-channel-protocol.md).
  $sub = serialize(['type' => 'subscribe', 'channels' => ['send_to_group']]);
  check(bin2hex(Conn::frame($sub)) === '00000053' . bin2hex(
      'a:2:{s:4:"type";s:9:"subscribe";s:8:"channels";a:1:{i:0;s:13:"send_to_group";}}'),
      'subscribe frame differs from the document');
  $c = new Conn($port);
  check($c->raw(Conn::frame($sub)), 'send');
  $p = new Conn($port);
  $p->send(['type' => 'publish', 'channels' => ['send_to_group'],
            'data' => ['group_id' => '123', 'message' => 'hi']]);
  $body = $c->body();
  $want = 'a:3:{s:4:"type";s:5:"event";s:7:"channel";s:13:"send_to_group";'
        . 's:4:"data";a:2:{s:8:"group_id";s:3:"123";s:7:"message";s:2:"hi";}}';
  check($body === $want, "event body: $body");
  check(strlen($body) + 4 === 0x85, 'event frame length');
  check(bin2hex(Conn::frame(serialize(['type' => 'reserve']))) ===
        '00000023' . bin2hex('a:1:{s:4:"type";s:7:"reserve";}'), 'reserve frame');
  break;

case 'pubsub':
  $a = new Conn($port);
  $b = new Conn($port);
  $a->send(['type' => 'subscribe', 'channels' => ['room', 'room']]);
  $a->send(['type' => 'subscribe', 'channels' => ['room']]);  // twice: once
  check($a->raw(pack('N', 4)), 'heartbeat');  // Channel\Client's heartbeat
  // A reconnecting Channel\Client re-subscribes with integer keys: 123.
  $b->send(['type' => 'subscribe', 'channels' => [123]]);
  sync($a, $port, 'a-ready');  // both subscriptions are in place
  sync($b, $port, 'b-ready');
  $b->send(['type' => 'publish', 'channels' => ['room'], 'data' => 'to a']);
  $a->send(['type' => 'publish', 'channels' => ['123'], 'data' => [1, 2.5, null, true]]);
  $e = event($a);
  check($e['channel'] === 'room' && $e['data'] === 'to a', json_encode($e));
  $e = event($b);
  check((string)$e['channel'] === '123' && $e['data'] === [1, 2.5, null, true],
        json_encode($e));
  // Publisher included; body with the trailing "\n" of Channel <= 1.2.1;
  // an unknown type is ignored.
  check($a->raw(Conn::frame(serialize(['type' => 'publish', 'channels' => ['room'],
                                       'data' => 'self']) . "\n")), 'send');
  $a->send(['type' => 'no_such_command', 'channels' => ['room']]);
  $e = event($a);
  check($e['data'] === 'self', json_encode($e));
  $a->send(['type' => 'unsubscribe', 'channels' => ['room']]);
  sync($a, $port, 'a-left');  // the unsubscribe is in effect
  $b->send(['type' => 'publish', 'channels' => ['room'], 'data' => 'nobody']);
  sync($b, $port, 'b-marker');  // the publish has been routed
  sync($a, $port, 'a-marker');  // 'nobody' would have come before this
  break;

case 'loop':
  $subs = [new Conn($port), new Conn($port), new Conn($port)];
  foreach ($subs as $s) $s->send(['type' => 'subscribe', 'channels' => ['work']]);
  foreach ($subs as $i => $s) sync($s, $port, "ready-$i");
  $p = new Conn($port);
  for ($i = 0; $i < 6; ++$i) {
    $p->send(['type' => 'publishLoop', 'channels' => ['work'], 'data' => "job$i"]);
  }
  $seen = [];
  foreach ($subs as $i => $s) {
    $mine = [];
    for ($k = 0; $k < 2; ++$k) $mine[] = event($s)['data'];
    sync($s, $port, "done-$i");  // and not a third
    $seen = array_merge($seen, $mine);
    // Round robin: the jobs of one subscriber are three apart.
    check((int)substr($mine[1], 3) - (int)substr($mine[0], 3) === 3,
          "subscriber $i got " . json_encode($mine));
  }
  sort($seen);
  check($seen === ['job0', 'job1', 'job2', 'job3', 'job4', 'job5'], json_encode($seen));
  break;

case 'queues':
  $w1 = new Conn($port);
  $w2 = new Conn($port);
  $w1->send(['type' => 'watch', 'channels' => ['jobs']]);
  $w2->send(['type' => 'watch', 'channels' => ['jobs']]);
  $p = new Conn($port);
  for ($i = 1; $i <= 5; ++$i) {
    $p->send(['type' => 'enqueue', 'channels' => ['jobs'], 'data' => ['n' => $i]]);
  }
  sync($p, $port, 'enqueued');  // the broker has handled p's frames
  $w1->send(['type' => 'reserve']);
  $e = event($w1, 'queue');
  check($e['channel'] === 'jobs' && $e['data'] === ['n' => 1], json_encode($e));
  $w2->send(['type' => 'reserve']);
  check(event($w2, 'queue')['data'] === ['n' => 2], 'w2 takes the 2nd');
  $w1->send(['type' => 'reserve']);
  check(event($w1, 'queue')['data'] === ['n' => 3], 'w1 takes the 3rd');
  // A reserved consumer that leaves loses its turn; the item waits.
  $w2->send(['type' => 'reserve']);
  check(event($w2, 'queue')['data'] === ['n' => 4], 'w2 takes the 4th');
  $w2->send(['type' => 'unwatch', 'channels' => ['jobs']]);
  $w2->send(['type' => 'reserve']);  // watches nothing now: no effect
  sync($w2, $port, 'w2-left');
  $w1->send(['type' => 'reserve']);
  check(event($w1, 'queue')['data'] === ['n' => 5], 'w1 takes the 5th');
  // An item enqueued while a consumer waits goes to it at once.
  $w1->send(['type' => 'reserve']);
  sync($w1, $port, 'w1-waits');
  $p->send(['type' => 'enqueue', 'channels' => ['jobs'], 'data' => 'late']);
  check(event($w1, 'queue')['data'] === 'late', 'the waiting consumer gets it');
  break;

case 'hostile':
  $good = new Conn($port);
  $good->send(['type' => 'subscribe', 'channels' => ['keep']]);
  $bodies = [
    'object' => 'a:1:{i:0;O:8:"stdClass":0:{}}',
    'reference' => 'a:2:{i:0;i:1;i:1;R:2;}',
    'count_lies' => 'a:99999999:{}',
    'deep' => str_repeat('a:1:{i:0;', 100) . 'N;' . str_repeat('}', 100),
    'length_lies' => 'a:1:{i:0;s:999:"x";}',
    'not_array' => 'a',
    'garbage' => "a:\xff\xfe",
  ];
  foreach ($bodies as $name => $body) {
    $bad = new Conn($port);
    check($bad->raw(Conn::frame($body)), "send $name");
    check($bad->eof(), "$name: the broker must close the connection");
    say("closed: $name");
  }
  $zero = new Conn($port);
  check($zero->raw("\x00\x00\x00\x00"), 'send zero length');
  check($zero->eof(), 'a zero length closes');
  sync($good, $port, 'still-here');
  break;

case 'refused':
  $c = new Conn($port);
  $c->send(['type' => 'subscribe', 'channels' => ['x']]);
  check($c->eof(), 'a PHP client must be refused by a broker with a token');
  break;

case 'allowed':
  $c = new Conn($port);
  $c->send(['type' => 'subscribe', 'channels' => ['x']]);
  sync($c, $port, 'allowed');
  break;

case 'subscriber':
  // Prints every event of channel ARG as JSON until COUNT arrived.
  $channel = $argv[3];
  $count = (int)$argv[4];
  $c = new Conn($port);
  $c->send(['type' => 'subscribe', 'channels' => [$channel]]);
  sync($c, $port, "sub-ready");
  say('READY');
  for ($i = 0; $i < $count; ++$i) {
    $d = event($c)['data'];
    // The data, and the PHP type of its group_id (integer or string).
    say('EVENT ' . json_encode(
        ['data' => $d, 'group_id_type' => is_array($d) ? gettype($d['group_id'] ?? null) : null],
        JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES));
  }
  break;

case 'publish':
  // Publishes json_decode(ARG2) on channel ARG.
  $c = new Conn($port);
  $c->send(['type' => 'publish', 'channels' => [$argv[3]],
            'data' => json_decode($argv[4], true)]);
  sync($c, $port, 'published');
  break;

default:
  fail("unknown mode '$mode'");
}
say('OK');
exit(0);
