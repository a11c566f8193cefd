// Compiled by `npm run typecheck` (tsc): the declarations describe the
// module as applications use it.
import { connect, ChannelError, type Message, type State } from '../channel-client.js';

const client = connect('ws://127.0.0.1:1234', {
  getToken: async () => 'token',
  offline: 'queue',
  maxQueue: 10,
});
client.on('state', (state: State, info) => { void state; void info.code; });
client.onGroup('room', (m: Message) => { const text: string = m.message; void text; });
const joined: Promise<void> = client.join('room');
const counts: Promise<{ connections: number; users: number }> = client.presence('room');
client.send('room', { any: 'json' }, { excludeSelf: true }).catch((e: ChannelError) => e.code);
void joined;
void counts;
client.close();
