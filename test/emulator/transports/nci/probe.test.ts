/**
 * What `jpki-hil doctor --nci` learns from the far end of the line: a controller's description, or
 * which of "silent", "not NCI" (an echo, a wrong baud rate) and "refused" went wrong.
 */
import { describe, expect, it } from 'vitest';
import { createLinkPair, NciProbeError, probeNciController } from '../../../../emulator/index.js';
import { fromHex } from '../../../../iso7816/bytes.js';

/** The probe's failure (it must fail). */
async function failure(probe: Promise<unknown>): Promise<NciProbeError> {
  const outcome = await probe.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(outcome instanceof NciProbeError)) throw new Error(`expected an NciProbeError, got ${String(outcome)}`);
  return outcome;
}

function farEnd(answer: (command: string, write: (hex: string) => void) => void): ReturnType<typeof createLinkPair>[0] {
  const [near, far] = createLinkPair('/dev/ttyTEST at 115200 baud');
  far.on('data', (bytes) => answer(Buffer.from(bytes).toString('hex').toUpperCase(), (hex) => far.write(fromHex(hex))));
  return near;
}

describe('NCI probe', () => {
  it('describes an NCI 2.0 controller from CORE_RESET and CORE_INIT', async () => {
    const link = farEnd((command, write) => {
      if (command === '20000101') write('40000100 6000090201200404 01020304');
      if (command === '2001020000') write('40011200 00000000 01 0001 FF FF 01 0001 02 0100 0200');
    });
    const info = await probeNciController(link, { timeoutMs: 500 });
    expect(info).toMatchObject({ nciVersion: 0x20, manufacturerId: 4, maxControlPayload: 255, interfaces: [1, 2], resetTrigger: 2 });
  });

  it('says "no NCI answer within 1 s" when nothing comes back', async () => {
    const error = await failure(probeNciController(farEnd(() => undefined), { timeoutMs: 1000 }));
    expect(error.kind).toBe('silent');
    expect(error.message).toBe('no NCI answer within 1 s on /dev/ttyTEST at 115200 baud');
  });

  it('recognises an echo of its own command, and bytes that are not NCI', async () => {
    const echo = await failure(probeNciController(farEnd((command, write) => write(command)), { timeoutMs: 200 }));
    expect(echo.kind).toBe('not-nci');
    expect(echo.message).toMatch(/4 byte\(s\) came back .* but not CORE_RESET_RSP \(20000101\); the line echoes what it is sent/);
    const noise = await failure(probeNciController(farEnd((_, write) => write('F0F0F0F0')), { timeoutMs: 200 }));
    expect(noise.kind).toBe('not-nci');
    expect(noise.received).toBe('F0F0F0F0');
  });

  it('reports a refused reset with its status', async () => {
    const error = await failure(probeNciController(farEnd((_, write) => write('40000103')), { timeoutMs: 200 }));
    expect(error.kind).toBe('refused');
    expect(error.message).toBe('the controller answered CORE_RESET with 0x03 FAILED');
  });
});
