// Compiled by `npm run typecheck` (tsc): the declarations describe the
// module as applications use it.
import { connect, ChannelError, type Gap, type HistoryPage, type JoinResult, type Message,
         type Position, type State } from '../channel-client.js';

const client = connect('ws://127.0.0.1:1234', {
  getToken: async () => 'token',
  offline: 'queue',
  maxQueue: 10,
});
client.on('state', (state: State, info) => { void state; void info.code; });
client.onGroup('room', (m: Message) => { const text: string = m.message; void text; });
const joined: Promise<JoinResult> = client.join('room', { since: { offset: 3, epoch: 'e' } });
const position: Position | undefined = client.position('room');
client.history('room', { limit: 50 }).then((page: HistoryPage) => page.messages[0]?.offset);
client.on('recovered', (e) => { const ok: boolean = e.recovered; void ok; });
client.on('gap', (g: Gap) => { const groups: string[] = g.groups; void groups; });
void position;
const counts: Promise<{ connections: number; users: number }> = client.presence('room');
client.send('room', { any: 'json' }, { excludeSelf: true }).catch((e: ChannelError) => e.code);
void joined;
void counts;
client.close();
