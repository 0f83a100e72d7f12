/**
 * OpenSC `card-jpki.c` / `pkcs15-jpki.c` (jpki-card.md §1.1, §2.2, §3.3, §4.2, §5, §8, §11.9) replayed
 * against the emulator byte for byte: card matching by AID, the PKCS#15 bind's PIN GET_INFO, the
 * certificate reads (4-byte header, then `sc_read_binary` in 256-byte chunks from offset 0), PIN
 * verification, set_security_env and SIGN, logout by re-selecting the AP, and the probes that the
 * drivers earlier in OpenSC's list send before `jpki` gets its turn.
 */
import { constants, publicDecrypt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Wire, b, certificateKey, digestInfo, expectValidSignature, h, hex, imageFile, issuedCards, kStatusQuery, readBinary, selectEf, signApdu } from './wire.js';

const cards = issuedCards({
  adult: 'adult',
  // OpenSC's logout relies on a re-select clearing the PINs; that is the securityOnReselect option.
  reselectClears: { definition: 'adult', change: (d) => ({ ...d, options: { ...d.options, securityOnReselect: 'clear' } }) },
});

// card-jpki.c jpki_match_card(): the ATR table has only the Juki-card ATR, so a My Number card is
// matched by SELECT of AID_JPKI with P2 0C (SC_APDU_CASE_3_SHORT).
const kMatchSelect = h('00 A4 04 0C 0A D392F000260100000001');
const kJukiCardAtr = h('3B E0 00 FF 81 31 FE 45 14');
// VERIFY as jpki_pin_cmd sends it for the auth PIN "1234": SC_APDU_CASE_3, P1 00, P2 80, no padding.
const kVerifyAuth1234 = h('00 20 00 80 04 31323334');
const kVerifySignJpki2026 = h('00 20 00 80 08 4A504B4932303236');

/** The OpenSC read of one certificate EF (jpki_select_file with file_out, then sc_read_binary). */
function readCertificate(wire: Wire, fid: string): { header: Uint8Array; content: Uint8Array; reads: string[] } {
  wire.exact(selectEf(fid), '');
  const header = wire.ok('00 B0 00 00 04');
  // The driver errors out on fewer than 4 bytes (GHSA-p3mx-7472-h3j8) and assumes `30 82 LL LL`.
  expect(header.length).toBe(4);
  expect(header[0]).toBe(0x30);
  expect(header[1]).toBe(0x82);
  const size = ((header[2]! << 8) | header[3]!) + 4;
  const reads: string[] = [];
  const chunks: Uint8Array[] = [];
  // sc_read_binary: chunks of sc_get_max_recv_size() = 256 from offset 0; Le 00 means 256, and the
  // last chunk asks for what is left.
  for (let offset = 0; offset < size; offset += 256) {
    const want = Math.min(256, size - offset);
    const command = readBinary(offset, want & 0xff);
    reads.push(command);
    const data = wire.ok(command);
    expect(data.length, `chunk at ${offset}`).toBe(want);
    chunks.push(data);
  }
  return { header, content: Uint8Array.from(Buffer.concat(chunks)), reads };
}

function connect(wire: Wire): void {
  // jpki_match_card → SELECT AID; jpki_init / bind select it again (the same bytes).
  wire.exact(kMatchSelect, '');
}

describe('OpenSC card-jpki.c: card matching', () => {
  it('does not find the card by ATR (only the Juki-card ATR is in jpki_atrs[]) and matches it by SELECT AID, P2 0C → 9000 without data', () => {
    const wire = new Wire(cards.adult);
    expect(Buffer.from(wire.card.atr).toString('hex').toUpperCase()).not.toBe(kJukiCardAtr);
    wire.exact(kMatchSelect, '');
  });

  it('re-selects the AID after a reset (card_reader_lock_obtained) and the card answers 9000', () => {
    const wire = new Wire(cards.adult);
    connect(wire);
    wire.card.reset();
    wire.exact(kMatchSelect, '');
  });
});

describe('OpenSC pkcs15-jpki.c: bind', () => {
  it('GET_INFO on both JPKI PINs: SELECT 0018 + 00 20 00 80 → 63C3, SELECT 001B + 00 20 00 80 → 63C5 (sw1 must be 63)', () => {
    const wire = new Wire(cards.adult);
    connect(wire);
    wire.exact('00 A4 02 0C 02 00 18', '');
    wire.exact('00 20 00 80', '', '63C3');
    wire.exact('00 A4 02 0C 02 00 1B', '');
    wire.exact('00 20 00 80', '', '63C5');
  });

  it('GET_INFO still answers 63Cx (not 9000, which OpenSC treats as an error) while the PIN is verified', () => {
    const wire = new Wire(cards.adult);
    connect(wire);
    wire.exact(selectEf('0018'), '');
    wire.exact(kVerifyAuth1234, '');
    wire.exact(selectEf('0018'), '');
    wire.exact(kStatusQuery, '', '63C3');
  });

  it('reads the user authentication certificate 000A: 4-byte header, size = LL+4, 256-byte chunks from 0; the bytes are the EF', () => {
    const wire = new Wire(cards.adult);
    connect(wire);
    const expected = imageFile(cards.adult, 'jpki', '000A');
    const { header, content, reads } = readCertificate(wire, '000A');
    expect(Buffer.from(header).equals(Buffer.from(expected.subarray(0, 4)))).toBe(true);
    expect(Buffer.from(content).equals(Buffer.from(expected))).toBe(true);
    // Offsets 0, 256, 512, … with Le 00 for the full chunks.
    expect(reads.slice(0, -1).every((c, i) => c === readBinary(i * 256, 0))).toBe(true);
    expect(reads.length).toBe(Math.ceil(expected.length / 256));
  });

  it('reads both CA certificates (000B auth CA, 0002 sign CA) without any PIN', () => {
    const wire = new Wire(cards.adult);
    connect(wire);
    for (const fid of ['000B', '0002']) {
      const { content } = readCertificate(wire, fid);
      expect(Buffer.from(content).equals(Buffer.from(imageFile(cards.adult, 'jpki', fid))), fid).toBe(true);
    }
  });

  it('pkcs15-tool -r 2 without --verify-pin: the 4-byte header read of 0001 fails with 6982 "Security status not satisfied"', () => {
    const wire = new Wire(cards.adult);
    connect(wire);
    wire.exact(selectEf('0001'), '');
    wire.exact('00 B0 00 00 04', '', '6982');
  });

  it('pkcs15-tool -r 2 -a 2 --verify-pin: after the sign PIN the digital signature certificate 0001 reads in full', () => {
    const wire = new Wire(cards.adult);
    expect(cards.adult.image.pins.sign.value).toBe('JPKI2026');
    connect(wire);
    wire.exact(selectEf('001B'), '');
    wire.exact(kVerifySignJpki2026, '');
    const { content } = readCertificate(wire, '0001');
    expect(Buffer.from(content).equals(Buffer.from(imageFile(cards.adult, 'jpki', '0001')))).toBe(true);
  });
});

describe('OpenSC: PIN verification and signing', () => {
  it('CKM_SHA256_RSA_PKCS with the auth key: VERIFY 0018, set_security_env selects 0017, 80 2A 00 80 33 <DigestInfo> 00 → 256 bytes that verify', () => {
    const wire = new Wire(cards.adult);
    expect(cards.adult.image.pins.auth.value).toBe('1234');
    connect(wire);
    const { content: certificate } = readCertificate(wire, '000A');
    wire.exact(selectEf('0018'), '');
    wire.exact(kVerifyAuth1234, '');
    wire.exact('00 A4 02 0C 02 00 17', ''); // jpki_set_security_env: key_ref 1 → "0017"
    const message = new TextEncoder().encode('OpenSC pkcs11-tool --sign --mechanism SHA256-RSA-PKCS');
    const di = digestInfo('sha256', message);
    expect(di.length).toBe(0x33);
    const command = signApdu(di);
    expect(command.slice(0, 10)).toBe('802A008033');
    expect(command.endsWith('00')).toBe(true);
    const signature = wire.ok(command);
    expectValidSignature(signature, certificate, 'sha256', message);
  });

  it('CKM_SHA256_RSA_PKCS with the digital signature key: VERIFY 001B, select 001A (key_ref 2), sign → verifies with 0001', () => {
    const wire = new Wire(cards.adult);
    connect(wire);
    wire.exact(selectEf('001B'), '');
    wire.exact(kVerifySignJpki2026, '');
    const { content: certificate } = readCertificate(wire, '0001');
    wire.exact('00 A4 02 0C 02 00 1A', '');
    const message = new TextEncoder().encode('契約書.pdf');
    const signature = wire.ok(signApdu(digestInfo('sha256', message)));
    expectValidSignature(signature, certificate, 'sha256', message);
  });

  it('CKM_RSA_PKCS passes the caller’s bytes through: a 245-byte input (k − 11) is signed with PKCS#1 type-1 padding', () => {
    const wire = new Wire(cards.adult);
    connect(wire);
    wire.exact(selectEf('0018'), '');
    wire.exact(kVerifyAuth1234, '');
    wire.exact(selectEf('0017'), '');
    const data = Uint8Array.from({ length: 245 }, (_, i) => (i * 7 + 3) & 0xff);
    const signature = wire.ok(`802A0080${b(245)}${hex(data)}00`);
    expect(signature.length).toBe(256);
    const key = certificateKey(imageFile(cards.adult, 'jpki', '000A'));
    expect(hex(publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature))).toBe(hex(data));
  });

  it('a wrong PIN gives 63C2 (tries_left = sw2 & 0xF); the right one then gives 9000 and GET_INFO is back at 63C3', () => {
    const wire = new Wire(cards.adult);
    connect(wire);
    wire.exact(selectEf('0018'), '');
    wire.exact('00 20 00 80 04 39393939', '', '63C2');
    wire.exact(selectEf('0018'), '');
    wire.exact(kVerifyAuth1234, '');
    wire.exact(selectEf('0018'), '');
    wire.exact(kStatusQuery, '', '63C3');
  });

  it('logout (jpki_logout re-selects the AID) clears the verified state on a card with securityOnReselect: clear: signing afterwards answers 6982', () => {
    const wire = new Wire(cards.reselectClears);
    connect(wire);
    wire.exact(selectEf('0018'), '');
    wire.exact(kVerifyAuth1234, '');
    wire.exact(selectEf('0017'), '');
    const di = digestInfo('sha256', new TextEncoder().encode('before logout'));
    expect(wire.ok(signApdu(di)).length).toBe(256);
    wire.exact(kMatchSelect, ''); // C_Logout
    wire.exact(selectEf('0017'), '');
    wire.exact(signApdu(di), '', '6982');
    // The sign PIN's protection of 0001 comes back too.
    wire.exact(selectEf('001B'), '');
    wire.exact(kVerifySignJpki2026, '');
    wire.exact(kMatchSelect, '');
    wire.exact(selectEf('0001'), '');
    wire.exact('00 B0 00 00 04', '', '6982');
  });
});

describe('OpenSC logout on a card that keeps the PINs across a re-select (securityOnReselect default)', () => {
  it('the logout SELECT answers 9000 and the PIN stays verified: the state OpenSC assumes is gone is still there', () => {
    const wire = new Wire(cards.adult);
    connect(wire);
    wire.exact(selectEf('0018'), '');
    wire.exact(kVerifyAuth1234, '');
    wire.exact(kMatchSelect, ''); // C_Logout
    expect(wire.card.session.verified).toEqual(['auth']);
    wire.exact(selectEf('0017'), '');
    const message = new TextEncoder().encode('after logout');
    expectValidSignature(wire.ok(signApdu(digestInfo('sha256', message))), imageFile(cards.adult, 'jpki', '000A'), 'sha256', message);
    // A reset clears it whatever the option.
    wire.card.reset();
    wire.exact(kMatchSelect, '');
    wire.exact(selectEf('0017'), '');
    wire.exact(signApdu(digestInfo('sha256', message)), '', '6982');
  });
});

/** The probes of drivers that come before `jpki` in ctx.c, and the SWs the card must give them. */
const kEarlierDriverProbes: readonly { probe: string; sw: string; what: string }[] = [
  { probe: '00 A4 04 00 07 62 76 01 FF 00 00 00', sw: '6A82', what: 'SELECT of a foreign AID (62 76 01 FF 00 00 00)' },
  { probe: 'B0 3C 01 00', sw: '6E00', what: 'a proprietary class B0 command' },
  { probe: '00 CA DF 30 05', sw: '6D00', what: 'GET DATA DF30' },
  { probe: '00 CB 3F FF 03 5C 01 7E 00', sw: '6D00', what: 'GET DATA (odd INS CB) on 3FFF' },
  { probe: '00 A4 04 00 06 A0 00 00 00 01 01', sw: '6A82', what: 'MUSCLE-style SELECT of A0 00 00 00 01 01' },
];

describe('OpenSC: probes of the drivers tried before jpki (ctx.c order)', () => {
  it('each probe gets a clean error SW (6A82 / 6E00 / 6D00) on a freshly powered card, and jpki still matches after them', () => {
    const wire = new Wire(cards.adult);
    for (const { probe, sw, what } of kEarlierDriverProbes) {
      const r = wire.send(probe);
      expect(r.sw, what).toBe(sw);
      expect(r.hex, what).toBe('');
    }
    wire.exact(kMatchSelect, '');
    wire.exact(selectEf('0018'), '');
    wire.exact(kStatusQuery, '', '63C3');
  });

  it('the probes leave a verified JPKI state untouched: signing still works after them', () => {
    const wire = new Wire(cards.adult);
    connect(wire);
    wire.exact(selectEf('0018'), '');
    wire.exact(kVerifyAuth1234, '');
    wire.exact(selectEf('0017'), '');
    for (const { probe, sw, what } of kEarlierDriverProbes) expect(wire.send(probe).sw, what).toBe(sw);
    expect(wire.card.session.applet).toBe('jpki');
    expect(wire.card.session.verified).toEqual(['auth']);
    // The key EF selected before the probes is still current, and set_security_env's re-select works too.
    const message = new TextEncoder().encode('after the probes');
    expectValidSignature(wire.ok(signApdu(digestInfo('sha256', message))), imageFile(cards.adult, 'jpki', '000A'), 'sha256', message);
    wire.exact(selectEf('0017'), '');
    expectValidSignature(wire.ok(signApdu(digestInfo('sha256', message))), imageFile(cards.adult, 'jpki', '000A'), 'sha256', message);
  });
});

