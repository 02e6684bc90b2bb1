/**
 * A deadline says "no answer" only when none came: an answer that arrived while the thread was busy past the
 * deadline (a large answer parsed, a garbage collection) is taken, not refused as the backend being away.
 */
import {createServer, request, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {within} from '../../../functions/platform/deadline';

let server: Server;
let url: string;

beforeAll(async () => {
  // Once its answer is on its way, the thread turns busy past the deadline, before the client has read it.
  server = createServer((_req, res) => res.end('answer', () => busy(300)));
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise(resolve => server.close(resolve)));

/** A GET of the stand-in, resolving with its body. */
const fetchText = () =>
  new Promise<string>((resolve, reject) => {
    request(url, {agent: false}, res => {
      let body = '';
      res.on('data', chunk => (body += chunk));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });

/** Keeps the thread busy for `ms`, as parsing a large answer does. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Nothing: the event loop cannot turn meanwhile.
  }
}

it('an answer that came in while the thread was busy past the deadline is the answer', async () => {
  await expect(within(fetchText(), 50, 'reading')).resolves.toBe('answer');
});

it('no answer at all is still refused at the deadline', async () => {
  const began = Date.now();
  await expect(
    within(new Promise(() => {}), 50, 'reading', 'Pub/Sub'),
  ).rejects.toThrow('reading: no answer from Pub/Sub in 50 ms');
  expect(Date.now() - began).toBeGreaterThanOrEqual(50);
});
