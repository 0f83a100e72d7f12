/**
 * The ISO/IEC 7816-4 edges the clients depend on or may run into (jpki-card.md §2.2, §3.1, §3.4,
 * §4.2, §4.3, §5, §9, §11), and the defaults of emulator/card/options.ts where the reference leaves
 * a behaviour open: Le forms, reads at and past the end, SFI reads, clean error SWs for unknown
 * AIDs, EFs, INS and CLA, bad P1-P2 and lengths, the signing preconditions, which PIN opens what,
 * how long a verified PIN lasts, a minor's card, and PIN blocking.
 */
import { describe, expect, it } from 'vitest';
import {
  AID,
  Wire,
  asciiHex,
  b,
  digestInfo,
  expectValidSignature,
  hex,
  imageFile,
  issuedCards,
  kStatusQuery,
  readBinary,
  selectAp,
  selectEf,
  signApdu,
  verifyPin,
} from './wire.js';

const cards = issuedCards({
  adult: 'adult',
  minor: 'minor',
  blocked: 'blocked-auth-pin',
  reselectClears: { definition: 'adult', change: (d) => ({ ...d, options: { ...d.options, securityOnReselect: 'clear' } }) },
});

const kMessage = new TextEncoder().encode('iso edge cases');
const kSha256Di = digestInfo('sha256', kMessage);

function same(a: Uint8Array, e: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(e));
}

function jpkiWithAuth(wire: Wire): void {
  wire.exact(selectAp(AID.jpki), '');
  wire.exact(selectEf('0018'), '');
  wire.exact(verifyPin('1234'), '');
}

function expectAuthSignatureWorks(wire: Wire): void {
  wire.exact(selectEf('0017'), '');
  expectValidSignature(wire.ok(signApdu(kSha256Di)), imageFile(cards.adult, 'jpki', '000A'), 'sha256', kMessage);
}

describe('READ BINARY: Le forms, end of file, SFI', () => {
  it('short Le 00 means 256: 00 B0 00 00 00 → the first 256 bytes of 000A', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('000A'), '');
    expect(hex(wire.ok('00 B0 00 00 00'))).toBe(hex(imageFile(cards.adult, 'jpki', '000A').subarray(0, 256)));
  });

  it('extended Le 00 00 00 means 65536 and gives the remaining bytes with 9000 (not 6282): whole EF from 0, the rest from 256', () => {
    const wire = new Wire(cards.adult);
    const certificate = imageFile(cards.adult, 'jpki', '000A');
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('000A'), '');
    expect(hex(wire.ok('00 B0 00 00 00 00 00'))).toBe(hex(certificate));
    expect(hex(wire.ok('00 B0 01 00 00 00 00'))).toBe(hex(certificate.subarray(256)));
    expect(hex(wire.ok('00 B0 00 00 00 01 2C'))).toBe(hex(certificate.subarray(0, 300)));
  });

  it('a short Le larger than what remains gives the remaining bytes with 9000, never 6Cxx or 6282, for every Le 1..256', () => {
    const wire = new Wire(cards.adult);
    const token = imageFile(cards.adult, 'jpki', '0006');
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0006'), '');
    for (let le = 0; le <= 0xff; le++) {
      const want = Math.min(le === 0 ? 256 : le, token.length - 27);
      expect(hex(wire.ok(readBinary(27, le))), `Le ${b(le)}`).toBe(hex(token.subarray(27, 27 + want)));
    }
  });

  it('an offset at the end or past it answers 6B00 (options.readPastEnd default)', () => {
    const wire = new Wire(cards.adult);
    const size = imageFile(cards.adult, 'jpki', '0006').length;
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0006'), '');
    wire.exact(readBinary(size, 1), '', '6B00');
    wire.exact(readBinary(size + 1, 0), '', '6B00');
    wire.exact('00 B0 7F FF 00 00 00', '', '6B00');
  });

  it('SFI form 00 B0 (80|SFI) <offset> Le reads that EF, which becomes current; an absent SFI answers 6A82', () => {
    const wire = new Wire(cards.adult);
    const certificate = imageFile(cards.adult, 'jpki', '000A');
    wire.exact(selectAp(AID.jpki), '');
    wire.exact('00 B0 86 00 20', asciiHex('JPKIAPICCTOKEN2'.padEnd(32, ' ')));
    expect(hex(wire.ok('00 B0 8A 10 10'))).toBe(hex(certificate.subarray(16, 32)));
    expect(hex(wire.ok('00 B0 00 00 04'))).toBe(hex(certificate.subarray(0, 4)));
    wire.exact('00 B0 9E 00 04', '', '6A82');
  });

  it('READ BINARY with no current EF answers an error (6986), not data', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact('00 B0 00 00 04', '', '6986');
  });
});

describe('clean errors for what the card does not have', () => {
  it('an unknown AID answers 6A82 and leaves the AP, the current EF and the verified PIN as they were', () => {
    const wire = new Wire(cards.adult);
    jpkiWithAuth(wire);
    wire.exact(selectEf('0017'), '');
    wire.exact('00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 02', '', '6A82');
    wire.exact('00 A4 04 00 07 A0 00 00 03 08 00 00 00', '', '6A82');
    expect(wire.card.session).toEqual({ applet: 'jpki', currentEf: 0x17, verified: ['auth'] });
    expectValidSignature(wire.ok(signApdu(kSha256Di)), imageFile(cards.adult, 'jpki', '000A'), 'sha256', kMessage);
  });

  it('an unknown EF answers 6A82 (in each AP) and the verified PIN stays', () => {
    const wire = new Wire(cards.adult);
    jpkiWithAuth(wire);
    for (const fid of ['0099', '0003', '3F00', 'FFFF']) wire.exact(selectEf(fid), '', '6A82');
    expectAuthSignatureWorks(wire);
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(selectEf('0016'), '', '6A82');
    wire.exact(selectAp(AID.juki), '');
    wire.exact(selectEf('0011'), '', '6A82');
  });

  it('READ RECORD of a record the 住基AP EF does not have answers 6A83 (as the MYNA dummy card does); record 1 reads', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.juki), '');
    wire.ok('00 B2 01 0C 00');
    wire.exact('00 B2 02 0C 00', '', '6A83');
  });

  it('an unknown INS answers 6D00, with or without an AP selected (GET CHALLENGE, GET RESPONSE, GET DATA, …)', () => {
    const wire = new Wire(cards.adult);
    for (const command of ['00 84 00 00 08', '00 C0 00 00 00', '00 CA 01 00 00', '00 0E 00 00', '00 E4 00 00']) wire.exact(command, '', '6D00');
    wire.exact(selectAp(AID.jpki), '');
    for (const command of ['00 84 00 00 08', '00 C0 00 00 00', '00 CA 01 00 00', '00 88 00 00 04 01020304 00', '00 22 41 B6 03 840101']) {
      wire.exact(command, '', '6D00');
    }
    // INS 2A exists only in the JPKI AP.
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(`802A0080${b(kSha256Di.length)}${hex(kSha256Di)}00`, '', '6D00');
  });

  it('an unsupported CLA answers 6E00: secure messaging 84 / 0C, logical channel 01, proprietary B0 / FF, and the wrong class per INS', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('000A'), '');
    for (const command of ['84 B0 00 00 04', '0C B0 00 00 04', '01 A4 02 0C 02 00 0A', 'B0 3C 01 00', 'FF CA 00 00 00', '80 B0 00 00 04', '80 A4 02 0C 02 00 0A']) {
      wire.exact(command, '', '6E00');
    }
    wire.exact(selectEf('0018'), '');
    wire.exact(verifyPin('1234'), '');
    wire.exact(selectEf('0017'), '');
    wire.exact(`002A0080${b(kSha256Di.length)}${hex(kSha256Di)}00`, '', '6E00');
    expect(wire.card.session.verified).toEqual(['auth']);
  });

  it('bad P1-P2 answer 6A86: SELECT P1 00/01/08, SELECT P2 08, VERIFY P1 01 / P2 00, CHANGE P1 00, SIGN P1 01 / P2 00, READ BINARY P1 E6, READ RECORD', () => {
    const wire = new Wire(cards.adult);
    wire.exact('00 A4 04 08 0A D392F000260100000001', '', '6A86');
    jpkiWithAuth(wire);
    for (const command of [
      '00 A4 00 0C 02 3F 00',
      '00 A4 01 0C 02 00 0A',
      '00 A4 08 0C 02 00 0A',
      '00 A4 02 08 02 00 0A',
      '00 20 01 80 04 31323334',
      '00 20 00 00 04 31323334',
      '00 24 00 80 04 31323334',
      '00 B0 E6 00 04',
      '00 B2 01 0F 00',
      '00 B2 00 0C 00',
    ]) {
      wire.exact(command, '', '6A86');
    }
    wire.exact(selectEf('0017'), '');
    wire.exact(`802A0180${b(kSha256Di.length)}${hex(kSha256Di)}00`, '', '6A86');
    wire.exact(`802A0000${b(kSha256Di.length)}${hex(kSha256Di)}00`, '', '6A86');
  });

  it('wrong lengths answer 6700: SELECT EF with 3 bytes, short Lc that does not match, Le on VERIFY, data on READ BINARY, a 17-byte AID', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('000A'), '');
    for (const command of [
      '00 A4 02 0C 03 00 0A 00', // SELECT EF takes 2 bytes
      '00 A4 02 0C 02 00', // Lc 2, one byte follows
      '00 A4 02 0C 05 00 0A', // Lc 5, two bytes follow
      '00 A4 02 0C 01 00 0A', // Lc 1 + Le: a 1-byte FID
      '00 B0 00 00 01 00 04', // READ BINARY with a data field
      '00 B0 00 00 00 01', // extended length cut short
      '00 20 00 80 00 00 00 31', // extended Lc 0
      '00 A4 04', // three bytes
      `00 A4 04 0C 11 ${'D392F000260100000001'}${'00'.repeat(7)}`, // a DF name over 16 bytes
    ]) {
      wire.exact(command, '', '6700');
    }
    wire.exact(selectEf('0018'), '');
    wire.exact('00 20 00 80 04 31323334 00', '', '6700');
    expect(wire.card.session.verified).toEqual([]);
  });

  it('never 61xx or 6Cxx, and never data with an error, for any INS under CLA 00 and 80 in cases 1 and 2 (the wire checks each answer)', () => {
    const wire = new Wire(cards.adult);
    jpkiWithAuth(wire);
    for (const cla of ['00', '80']) {
      for (let ins = 0; ins <= 0xff; ins++) {
        if ((ins & 0xf0) === 0x60 || (ins & 0xf0) === 0x90) continue; // not valid INS codes
        wire.send(`${cla}${b(ins)}0000`);
        wire.send(`${cla}${b(ins)}000000`);
        wire.send(`${cla}${b(ins)}0000000000`);
      }
    }
    expect(wire.log.every((e) => !/^(61|6C)/.test(e.sw))).toBe(true);
  });
});

describe('signing preconditions', () => {
  it('signing without the PIN answers 6982 (options.signWithoutPinSw default), for both keys', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0017'), '');
    wire.exact(signApdu(kSha256Di), '', '6982');
    wire.exact(selectEf('001A'), '');
    wire.exact(signApdu(kSha256Di), '', '6982');
  });

  it('signing without a key EF selected answers 6986: right after SELECT AP, with a certificate EF or a PIN EF current', () => {
    const wire = new Wire(cards.adult);
    jpkiWithAuth(wire); // 0018 is current
    wire.exact(signApdu(kSha256Di), '', '6986');
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0018'), '');
    wire.exact(verifyPin('1234'), '');
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(signApdu(kSha256Di), '', '6986');
    wire.exact(selectEf('000A'), '');
    wire.exact(signApdu(kSha256Di), '', '6986');
  });

  it('data longer than 245 bytes (k − 11) answers 6700; 245 bytes are signed', () => {
    const wire = new Wire(cards.adult);
    jpkiWithAuth(wire);
    wire.exact(selectEf('0017'), '');
    wire.exact(`802A0080${b(246)}${'A5'.repeat(246)}00`, '', '6700');
    expect(wire.ok(`802A0080${b(245)}${'A5'.repeat(245)}00`).length).toBe(256);
  });
});

describe('which PIN opens what', () => {
  it('the auth PIN opens neither the sign key 001A nor the sign certificate 0001 (6982)', () => {
    const wire = new Wire(cards.adult);
    jpkiWithAuth(wire);
    wire.exact(selectEf('001A'), '');
    wire.exact(signApdu(kSha256Di), '', '6982');
    wire.exact(selectEf('0001'), '');
    wire.exact('00 B0 00 00 04', '', '6982');
  });

  it('the sign password does not open the auth key 0017 (6982)', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('JPKI2026'), '');
    wire.exact(selectEf('0017'), '');
    wire.exact(signApdu(kSha256Di), '', '6982');
  });

  it('the sign certificate is unreadable (6982) until the password is verified, and readable after', () => {
    const wire = new Wire(cards.adult);
    const certificate = imageFile(cards.adult, 'jpki', '0001');
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0001'), '');
    wire.exact('00 B0 00 00 04', '', '6982');
    wire.exact('00 B0 81 00 00 00 00', '', '6982');
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('JPKI2026'), '');
    wire.exact(selectEf('0001'), '');
    expect(hex(wire.ok('00 B0 00 00 00 00 00'))).toBe(hex(certificate));
  });

  it('the kenhojo files need a kenhojo PIN; the JPKI auth PIN does not carry over to them', () => {
    const wire = new Wire(cards.adult);
    jpkiWithAuth(wire);
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(selectEf('0001'), '');
    wire.exact('00 B0 00 00 11', '', '6982');
  });
});

describe('how long a verified PIN lasts', () => {
  it('it survives SELECT EF, READ BINARY, status queries and many signatures in a row', () => {
    const wire = new Wire(cards.adult);
    jpkiWithAuth(wire);
    for (let i = 0; i < 12; i++) {
      const message = new TextEncoder().encode(`signature ${i}`);
      wire.exact(selectEf('0017'), '');
      expectValidSignature(wire.ok(signApdu(digestInfo('sha256', message))), imageFile(cards.adult, 'jpki', '000A'), 'sha256', message);
      // Another signature with the key EF still current.
      expect(wire.ok(signApdu(kSha256Di)).length).toBe(256);
      if (i % 3 === 0) {
        wire.exact(selectEf('000A'), '');
        wire.ok('00 B0 00 00 04');
        wire.exact(selectEf('0018'), '');
        wire.exact(kStatusQuery, '', '63C3');
      }
    }
    expect(wire.card.session.verified).toEqual(['auth']);
  });

  it('SELECT of the same AP keeps it (options.securityOnReselect default): verify, re-select, sign', () => {
    const wire = new Wire(cards.adult);
    jpkiWithAuth(wire);
    wire.exact(selectAp(AID.jpki), '');
    expect(wire.card.session.verified).toEqual(['auth']);
    expectAuthSignatureWorks(wire);
    // The current EF does not survive the re-select: the key EF has to be selected again.
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(signApdu(kSha256Di), '', '6986');
  });

  it('SELECT of the same AP clears it with securityOnReselect: clear', () => {
    const wire = new Wire(cards.reselectClears);
    jpkiWithAuth(wire);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0017'), '');
    wire.exact(signApdu(kSha256Di), '', '6982');
  });

  it('securityOnReselect does not change what an AP switch does: kenhojo and back still clears (securityOnApSwitch default)', () => {
    for (const card of [cards.adult, cards.reselectClears]) {
      const wire = new Wire(card);
      jpkiWithAuth(wire);
      wire.exact(selectAp(AID.kenhojo), '');
      wire.exact(selectAp(AID.jpki), '');
      wire.exact(selectEf('0017'), '');
      wire.exact(signApdu(kSha256Di), '', '6982');
    }
  });

  it('SELECT of another AP clears it (options.securityOnApSwitch default), in both directions', () => {
    const wire = new Wire(cards.adult);
    jpkiWithAuth(wire);
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0017'), '');
    wire.exact(signApdu(kSha256Di), '', '6982');
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(selectEf('0011'), '');
    wire.exact(verifyPin(cards.adult.image.pins.kenhojo.value), '');
    wire.exact(selectAp(AID.kenkaku), '');
    wire.exact(selectAp(AID.kenhojo), '');
    wire.exact(selectEf('0001'), '');
    wire.exact('00 B0 00 00 11', '', '6982');
  });

  it('a warm reset clears it', () => {
    const wire = new Wire(cards.adult);
    jpkiWithAuth(wire);
    wire.card.reset();
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0017'), '');
    wire.exact(signApdu(kSha256Di), '', '6982');
  });

  it('power-off clears it', () => {
    const wire = new Wire(cards.adult);
    jpkiWithAuth(wire);
    wire.card.powerOff();
    wire.card.powerOn();
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0017'), '');
    wire.exact(signApdu(kSha256Di), '', '6982');
  });
});

describe('a minor’s card (under 15: no signature certificate, key or password)', () => {
  it('SELECT of 0001, 001A and 001B answers 6A82; 000A, the token and the auth key work', () => {
    const wire = new Wire(cards.minor);
    wire.exact(selectAp(AID.jpki), '');
    for (const fid of ['0001', '001A', '001B']) wire.exact(selectEf(fid), '', '6A82');
    wire.exact(selectEf('0006'), '');
    wire.ok('00 B0 00 00 20');
    wire.exact(selectEf('000A'), '');
    const certificate = wire.ok('00 B0 00 00 00 00 00');
    expect(same(certificate, imageFile(cards.minor, 'jpki', '000A'))).toBe(true);
    wire.exact(selectEf('0018'), '');
    wire.exact(kStatusQuery, '', '63C3');
    wire.exact(verifyPin(cards.minor.image.pins.auth.value), '');
    wire.exact(selectEf('0017'), '');
    expectValidSignature(wire.ok(signApdu(kSha256Di)), certificate, 'sha256', kMessage);
  });

  it('VERIFY by reference to the absent sign PIN (P2 9B) answers 6A88', () => {
    const wire = new Wire(cards.minor);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(verifyPin('ABCDEF', 0x9b), '', '6A88');
  });
});

describe('PIN counters and blocking', () => {
  it('a wrong PIN answers 63C2, 63C1, 63C0, then 6983 (options.blockedPinSw default) even for the right PIN', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0018'), '');
    wire.exact(verifyPin('0000'), '', '63C2');
    wire.exact(verifyPin('0000'), '', '63C1');
    wire.exact(verifyPin('0000'), '', '63C0');
    wire.exact(verifyPin('0000'), '', '6983');
    wire.exact(verifyPin('1234'), '', '6983');
    wire.exact(kStatusQuery, '', '63C0');
    wire.exact(selectEf('0017'), '');
    wire.exact(signApdu(kSha256Di), '', '6982');
  });

  it('a right PIN after wrong ones resets the counter (OpenSC sets tries_left = max_tries on 9000)', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('001B'), '');
    wire.exact(verifyPin('WRONG1'), '', '63C4');
    wire.exact(verifyPin('WRONG2'), '', '63C3');
    wire.exact(verifyPin('JPKI2026'), '');
    wire.exact(kStatusQuery, '', '63C5');
  });

  it('a blocked card (blocked-auth-pin): VERIFY answers 6983, the status query 63C0, and the sign password still works', () => {
    const wire = new Wire(cards.blocked);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(selectEf('0018'), '');
    wire.exact(kStatusQuery, '', '63C0');
    wire.exact(verifyPin(cards.blocked.image.pins.auth.value), '', '6983');
    wire.exact(verifyPin('0000'), '', '6983');
    wire.exact(kStatusQuery, '', '63C0');
    wire.exact(selectEf('0017'), '');
    wire.exact(signApdu(kSha256Di), '', '6982');
    wire.exact(selectEf('001B'), '');
    wire.exact(kStatusQuery, '', '63C5');
    wire.exact(verifyPin(cards.blocked.image.pins.sign.value), '');
  });

  it('an empty VERIFY with no PIN EF current answers an error (6986), not 63Cx', () => {
    const wire = new Wire(cards.adult);
    wire.exact(selectAp(AID.jpki), '');
    wire.exact(kStatusQuery, '', '6986');
  });
});
