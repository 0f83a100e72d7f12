import { createHash, createPublicKey, randomBytes, verify, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard, kCardInfoPublicKeyFile } from '../../../emulator/index.js';
import { fromBase64, toBase64 } from '../../../iso7816/bytes.js';
import { readTlv, readTlvList } from '../../../iso7816/tlv.js';
import { isLoopbackAddress, startPcAgent, type AskPin, type PcAgent, type PcAgentEvents, type PinRequest } from '../../../harness/agents/pc-agent/pc-agent.js';
import { parseKenhojoBasic4 } from '../../../common/card-info-format.js';
import { JpkiClient } from '../../../harness/jpki/jpki-client.js';
import { InProcessReader } from '../../../harness/readers/in-process-reader.js';
import { ReaderError, type Reader } from '../../../harness/readers/reader.js';
import { issueFixture, tempDir, type IssuedFixture } from '../../support/cards.js';
import { AgentTestClient, RefusedError, type Answer } from './ws-test-client.js';

/** An askPin that answers from a list and records what it was asked. */
function scriptedPins(...answers: Array<string | null>): AskPin & { asked: PinRequest[] } {
  const asked: PinRequest[] = [];
  const ask = (request: PinRequest): Promise<string | null> => {
    asked.push(request);
    if (answers.length === 0) throw new Error(`askPin was not expected to be called (${JSON.stringify(request)})`);
    return Promise.resolve(answers.shift()!);
  };
  return Object.assign(ask, { asked });
}

/** Tries left of a PIN, read the way a client does (the empty VERIFY, which uses none). */
async function triesLeft(reader: Reader, pin: 'auth' | 'kenhojo'): Promise<number> {
  const connection = await reader.connect();
  try {
    return await new JpkiClient(connection).pinTriesLeft(pin);
  } finally {
    await connection.disconnect('reset');
  }
}

describe('PC agent', () => {
  const dir = tempDir();
  let fixture: IssuedFixture;
  const agents: PcAgent[] = [];
  const clients: AgentTestClient[] = [];

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'adult');
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    for (const agent of agents.splice(0)) await agent.close();
  });
  afterAll(() => dir.remove());

  async function start(askPin: AskPin, options: { allowedOrigins?: string[]; image?: IssuedFixture['image'] } = {}) {
    const reader = new InProcessReader('test reader', createMemoryCard(options.image ?? fixture.image));
    const agent = await startPcAgent({ reader, port: 0, askPin, cardWaitMs: 150, allowedOrigins: options.allowedOrigins });
    agents.push(agent);
    return { agent, reader };
  }

  async function connect(agent: PcAgent, origin?: string): Promise<AgentTestClient> {
    const client = await AgentTestClient.open(agent.url, origin);
    clients.push(client);
    return client;
  }

  const signRequest = (id: string | number, nonce: Uint8Array): Record<string, unknown> => ({ id, type: 'sign', nonce: toBase64(nonce), purpose: 'login' });

  it('listens on loopback at ws://127.0.0.1:<port>/ and answers status with the reader and card presence', async () => {
    const { agent, reader } = await start(scriptedPins());
    expect(agent.url).toBe(`ws://127.0.0.1:${agent.port}/`);
    const client = await connect(agent);
    expect(await client.request({ id: 'status-1', type: 'status' })).toEqual({ id: 'status-1', ok: true, reader: 'test reader', cardPresent: true });
    reader.remove();
    expect(await client.request({ id: 7, type: 'status' })).toEqual({ id: 7, ok: true, reader: 'test reader', cardPresent: false });
  });

  it('signs the nonce with the auth key: the signature verifies against the returned certificate over the nonce', async () => {
    const askPin = scriptedPins('1234');
    const { agent, reader } = await start(askPin);
    const client = await connect(agent);
    const nonce = randomBytes(32);
    const answer = await client.request(signRequest('sign-1', nonce));
    expect(answer).toMatchObject({ id: 'sign-1', ok: true });
    const certificate = new X509Certificate(fromBase64(answer.certificate as string));
    const signature = fromBase64(answer.signature as string);
    expect(verify('sha256', nonce, certificate.publicKey, signature)).toBe(true);
    expect(verify('sha256', randomBytes(32), certificate.publicKey, signature)).toBe(false);
    // It is the authentication certificate, issued by the test CA's authentication CA.
    expect(certificate.checkIssued(new X509Certificate(fixture.ca.auth.certificate))).toBe(true);
    expect(askPin.asked).toEqual([{ pin: 'auth', purpose: 'login', triesLeft: 3, retry: false }]);

    // The request ended with a reset: the card holds no verified PIN and no selected AP any more.
    expect(reader.card!.session).toMatchObject({ applet: undefined, verified: [] });
  });

  it('a wrong PIN answers WRONG_PIN with triesLeft 2, asks "again" next time, and the third blocks the PIN', async () => {
    const askPin = scriptedPins('9999', '9998', '9997');
    const { agent, reader } = await start(askPin);
    const client = await connect(agent);
    const first = await client.request(signRequest('a', randomBytes(32)));
    expect(first).toMatchObject({ id: 'a', ok: false, code: 'WRONG_PIN', triesLeft: 2 });
    expect(first.message).toMatch(/暗証番号/);
    expect(await client.request(signRequest('b', randomBytes(32)))).toMatchObject({ id: 'b', ok: false, code: 'WRONG_PIN', triesLeft: 1 });
    const third = await client.request(signRequest('c', randomBytes(32)));
    expect(third).toMatchObject({ id: 'c', ok: false, code: 'PIN_BLOCKED' });
    expect(third.triesLeft).toBeUndefined();
    expect(askPin.asked).toEqual([
      { pin: 'auth', purpose: 'login', triesLeft: 3, retry: false },
      { pin: 'auth', purpose: 'login', triesLeft: 2, retry: true },
      { pin: 'auth', purpose: 'login', triesLeft: 1, retry: true },
    ]);
    // Blocked: answered without asking anyone for a PIN (scriptedPins would throw → CANCELLED).
    expect(await client.request(signRequest('d', randomBytes(32)))).toMatchObject({ id: 'd', ok: false, code: 'PIN_BLOCKED' });
    expect(await triesLeft(reader, 'auth')).toBe(0);
  });

  it('answers NO_CARD when no card comes within the wait, and signs when one is put down during it', async () => {
    const askPin = scriptedPins('1234');
    const { agent, reader } = await start(askPin);
    const client = await connect(agent);
    reader.remove();
    expect(await client.request(signRequest('none', randomBytes(32)))).toMatchObject({ id: 'none', ok: false, code: 'NO_CARD' });
    expect(askPin.asked).toEqual([]);
    const late = client.request(signRequest('late', randomBytes(32)));
    setTimeout(() => reader.insert(), 30);
    expect(await late).toMatchObject({ id: 'late', ok: true });
  });

  it('answers CARD_REMOVED when the card is taken away while the PIN is being entered', async () => {
    const held: { reader?: InProcessReader } = {};
    const askPin: AskPin = () => {
      held.reader!.remove();
      return Promise.resolve('1234');
    };
    const { agent, reader } = await start(askPin);
    held.reader = reader;
    const client = await connect(agent);
    expect(await client.request(signRequest('gone', randomBytes(32)))).toMatchObject({ id: 'gone', ok: false, code: 'CARD_REMOVED' });
  });

  it('a cancelled PIN entry answers CANCELLED and costs no try', async () => {
    const askPin = scriptedPins(null);
    const { agent, reader } = await start(askPin);
    const client = await connect(agent);
    expect(await client.request(signRequest('x', randomBytes(32)))).toMatchObject({ id: 'x', ok: false, code: 'CANCELLED' });
    expect(await triesLeft(reader, 'auth')).toBe(3);
  });

  it('readCardInfo after sign reuses the auth PIN: EF 0002 decodes to the identity and EF 0003 holds its hash and a valid signature', async () => {
    const askPin = scriptedPins('1234');
    const { agent, reader } = await start(askPin);
    const client = await connect(agent);
    expect(await client.request(signRequest('login', randomBytes(32)))).toMatchObject({ ok: true });
    const answer = await client.request({ id: 'info', type: 'readCardInfo' });
    expect(answer).toMatchObject({ id: 'info', ok: true });
    expect(askPin.asked).toHaveLength(1); // only the auth PIN: the card accepted it for the card-info AP
    expect(reader.card!.session.verified).toEqual([]);

    const basic4 = fromBase64(answer.basic4 as string);
    const identity = fixture.definition.identity;
    expect(parseKenhojoBasic4(basic4)).toEqual({ name: identity.name, address: identity.address, birth: identity.birth, sex: identity.sex });
    expect(readTlv(basic4).size).toBe(basic4.length); // exactly the FF 20 TLV, nothing after it

    const ef0003 = fromBase64(answer.basic4Signature as string);
    expect(ef0003).toHaveLength(336);
    const outer = readTlv(ef0003);
    expect(outer.tag).toBe(0xff30);
    const [df31, df32, df33] = readTlvList(outer.value);
    expect(df32!.tag).toBe(0xdf32);
    // The basic-4 span: from the DF 22 (name) TLV through the end of the DF 25 (sex) TLV.
    const content = readTlv(basic4).value;
    const [df21] = readTlvList(content);
    expect(df21!.tag).toBe(0xdf21);
    const span = content.subarray(df21!.size);
    expect(readTlvList(span).map((t) => t.tag)).toEqual([0xdf22, 0xdf23, 0xdf24, 0xdf25]);
    expect(Buffer.from(df32!.value).equals(createHash('sha256').update(span).digest())).toBe(true);
    const cardInfoKey = createPublicKey(readFileSync(join(fixture.ca.dir, kCardInfoPublicKeyFile), 'utf8'));
    // The AP signs the two hash TLVs: the first 70 bytes of the outer content.
    const signed = outer.value.subarray(0, df31!.size + df32!.size);
    expect(verify('sha256', signed, cardInfoKey, df33!.value)).toBe(true);
  });

  it('readCardInfo without a PIN in the session asks for the card-info PIN', async () => {
    const askPin = scriptedPins('1234');
    const { agent } = await start(askPin);
    const client = await connect(agent);
    expect(await client.request({ id: 1, type: 'readCardInfo' })).toMatchObject({ id: 1, ok: true });
    expect(askPin.asked).toEqual([{ pin: 'kenhojo', purpose: 'card-info', triesLeft: 3, retry: false }]);
  });

  it('asks for the card-info PIN again when the card refuses the auth PIN for it', async () => {
    const otherDir = tempDir();
    try {
      const distinct = await issueFixture(otherDir.path, 'adult', (d) => ({ ...d, pins: { ...d.pins, kenhojo: '5678' } }));
      const askPin = scriptedPins('1234', '5678');
      const { agent, reader } = await start(askPin, { image: distinct.image });
      const client = await connect(agent);
      expect(await client.request(signRequest('login', randomBytes(32)))).toMatchObject({ ok: true });
      expect(await client.request({ id: 'info', type: 'readCardInfo' })).toMatchObject({ id: 'info', ok: true });
      expect(askPin.asked).toEqual([
        { pin: 'auth', purpose: 'login', triesLeft: 3, retry: false },
        { pin: 'kenhojo', purpose: 'card-info', triesLeft: 2, retry: true },
      ]);
      // The right PIN resets the counter the refused one had used.
      expect(await triesLeft(reader, 'kenhojo')).toBe(3);
    } finally {
      otherDir.remove();
    }
  });

  it('answers malformed requests with BAD_REQUEST and keeps serving', async () => {
    const { agent } = await start(scriptedPins());
    const client = await connect(agent);
    expect(await client.sendRaw('{not json')).toMatchObject({ id: null, ok: false, code: 'BAD_REQUEST' });
    expect(await client.sendRaw('[1,2]')).toMatchObject({ id: null, ok: false, code: 'BAD_REQUEST' });
    expect(await client.sendRaw(JSON.stringify({ type: 'status' }))).toMatchObject({ id: null, ok: false, code: 'BAD_REQUEST' });
    expect(await client.sendRaw(Buffer.from('{"id":"b","type":"status"}'), true)).toMatchObject({ id: null, ok: false, code: 'BAD_REQUEST' });
    expect(await client.request({ id: 'u', type: 'format' })).toMatchObject({ id: 'u', ok: false, code: 'BAD_REQUEST' });
    expect(await client.request({ id: 'n', type: 'sign', nonce: 'not base64!', purpose: 'login' })).toMatchObject({ id: 'n', ok: false, code: 'BAD_REQUEST' });
    expect(await client.request({ id: 'p', type: 'sign', nonce: toBase64(randomBytes(32)), purpose: 'signing' })).toMatchObject({ id: 'p', ok: false, code: 'BAD_REQUEST' });
    const bad = await client.request({ id: 'm', type: 'sign', purpose: 'login' });
    expect(bad.message).toMatch(/nonce/);
    expect(await client.request({ id: 'still', type: 'status' })).toMatchObject({ id: 'still', ok: true, cardPresent: true });
  });

  it('works on one card request at a time, across connections, with one answer per id', async () => {
    let active = 0;
    let most = 0;
    const askPin: AskPin = async () => {
      active++;
      most = Math.max(most, active);
      await new Promise((resolve) => setTimeout(resolve, 40));
      active--;
      return '1234';
    };
    const { agent } = await start(askPin);
    const [a, b] = [await connect(agent), await connect(agent)];
    const answers = await Promise.all([
      a.request(signRequest('a1', randomBytes(32))),
      b.request(signRequest('b1', randomBytes(32))),
      a.request({ id: 'a2', type: 'readCardInfo' }),
      b.request(signRequest('b2', randomBytes(32))),
    ]);
    expect(answers.map((x) => [x.id, x.ok])).toEqual([
      ['a1', true],
      ['b1', true],
      ['a2', true],
      ['b2', true],
    ]);
    expect(most).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 20)); // nothing else trickles in
    expect(a.received.map((x) => x.id)).toEqual(['a1', 'a2']);
    expect(b.received.map((x) => x.id)).toEqual(['b1', 'b2']);
  });

  it('refuses pages from origins not allowed, and lets allowed ones in', async () => {
    const { agent } = await start(scriptedPins(), { allowedOrigins: ['http://127.0.0.1:8443'] });
    const refused: PcAgentEvents['refused'][0][] = [];
    agent.events.on('refused', (event) => refused.push(event));
    const evil = await AgentTestClient.open(agent.url, 'https://evil.example').catch((e: unknown) => e);
    expect(evil).toBeInstanceOf(RefusedError);
    expect((evil as RefusedError).status).toBe(403);
    // Another loopback port is another origin, too.
    await expect(AgentTestClient.open(agent.url, 'http://127.0.0.1:9999')).rejects.toMatchObject({ status: 403 });
    expect(refused.map((r) => r.origin)).toEqual(['https://evil.example', 'http://127.0.0.1:9999']);
    const page = await connect(agent, 'http://127.0.0.1:8443');
    expect(await page.request({ id: 1, type: 'status' })).toMatchObject({ ok: true });
  });

  it('without an allow-list, lets loopback pages in and refuses others (and other paths)', async () => {
    const { agent } = await start(scriptedPins());
    const page = await connect(agent, 'http://localhost:3000');
    expect(await page.request({ id: 1, type: 'status' })).toMatchObject({ ok: true });
    await expect(AgentTestClient.open(agent.url, 'https://portal.example.jp')).rejects.toMatchObject({ status: 403 });
    await expect(AgentTestClient.open(agent.url, 'null')).rejects.toMatchObject({ status: 403 });
    await expect(AgentTestClient.open(`${agent.url}elsewhere`)).rejects.toMatchObject({ status: 404 });
  });

  it('emits request and answer events for the logs', async () => {
    const { agent } = await start(scriptedPins('1234'));
    const seen: string[] = [];
    agent.events.on('request', (e) => seen.push(`request ${String(e.id)} ${e.type}`));
    agent.events.on('answer', (e: PcAgentEvents['answer'][0]) => seen.push(`answer ${String(e.answer.id)} ${e.answer.ok} ${e.delivered}`));
    const client = await connect(agent);
    await client.request(signRequest('s', randomBytes(32)));
    await client.sendRaw('nope');
    expect(seen).toEqual(['request s sign', 'answer s true true', 'request null null', 'answer null false true']);
  });

  it('answers NO_READER while the reader cannot be opened, and opens it again later', async () => {
    let opens = 0;
    const reader = new InProcessReader('late reader', createMemoryCard(fixture.image));
    const open = (): Promise<Reader> => (++opens === 1 ? Promise.reject(new ReaderError('NO_READER', 'not plugged in')) : Promise.resolve(reader));
    const agent = await startPcAgent({ reader: open, port: 0, askPin: scriptedPins() });
    agents.push(agent);
    const client = await connect(agent);
    const answer: Answer = await client.request({ id: 1, type: 'status' });
    expect(answer).toMatchObject({ id: 1, ok: false, code: 'NO_READER' });
    expect(await client.request({ id: 2, type: 'status' })).toEqual({ id: 2, ok: true, reader: 'late reader', cardPresent: true });
    await agent.close();
    // The agent opened that reader, so it closed it.
    expect(reader.closed).toBe(true);
  });

  it('refuses to listen anywhere but loopback, and knows loopback peers', async () => {
    await expect(startPcAgent({ reader: new InProcessReader('r'), host: '0.0.0.0', port: 0, askPin: scriptedPins() })).rejects.toThrow(/loopback/);
    expect(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'].map(isLoopbackAddress)).toEqual([true, true, true, true]);
    expect(['10.0.0.1', '::ffff:192.168.0.2', '128.0.0.1', undefined].map(isLoopbackAddress)).toEqual([false, false, false, false]);
  });
});
