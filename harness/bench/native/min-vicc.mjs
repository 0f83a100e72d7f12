#!/usr/bin/env node
// The benchmark's second reference virtual card: min-vicc.py's loop written as plain Node would
// write it (net socket, 'data' events, socket.write), so that the bench can tell what Node's event
// loop costs per APDU apart from what the card's own path in `jpki-hil card serve` adds.
// It connects to vpcd, answers the ATR request with the ATR it is given and every APDU with 9000.
// Usage: min-vicc.mjs <host> <port> <ATR hex>. Prints "ready" once connected; runs until vpcd closes
// the connection or it is killed.
import { connect } from 'node:net';

const [host, port, atrHex] = process.argv.slice(2);
if (!host || !port || !atrHex || !/^([0-9a-fA-F]{2})+$/.test(atrHex)) {
  process.stderr.write('usage: min-vicc.mjs <host> <port> <ATR hex>\n');
  process.exit(2);
}
const atr = Buffer.from(atrHex, 'hex');
const atrFrame = Buffer.concat([Buffer.from([atr.length >> 8, atr.length & 0xff]), atr]);
const ok = Buffer.from([0x00, 0x02, 0x90, 0x00]);

let pending = Buffer.alloc(0);
const socket = connect({ host, port: Number(port) }, () => {
  socket.setNoDelay(true);
  process.stdout.write('ready\n');
});
socket.on('data', (chunk) => {
  const data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
  let offset = 0;
  while (data.length - offset >= 2) {
    const length = data.readUInt16BE(offset);
    if (data.length - offset < 2 + length) break;
    const payload = data.subarray(offset + 2, offset + 2 + length);
    offset += 2 + length;
    if (length === 1) {
      if (payload[0] === 0x04) socket.write(atrFrame);
      continue;
    }
    socket.write(ok);
  }
  pending = offset === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(offset));
});
socket.on('error', (e) => {
  process.stderr.write(`min-vicc.mjs: ${e.message}\n`);
  process.exit(1);
});
socket.on('close', () => process.exit(0));
