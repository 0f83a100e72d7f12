/**
 * treastrain/TRETJapanNFCReader, IndividualNumberReader (jpki-card.md §2.1, §2.2, §3.2, §4.1-§4.3,
 * §6.1, §6.2, §7), replayed against the emulator. CoreNFC `NFCISO7816APDU` with
 * `expectedResponseLength: -1` gives case-1/case-3 commands without Le; the reader checks
 * `sw1 != 0x90` for failure and reads the tries from 63Cx. AIDs are the three in
 * `NFCKitISO7816ApplicationIdentifiers.japanIndividualNumberCard`.
 */
import { describe, expect, it } from 'vitest';
import { Wire, ascii, asciiHex, b, imageFile, issuedCards, triesSw } from './wire.js';

const cards = issuedCards({ adult: 'adult' });

const kSelectJpki = '00A4040C0AD392F000260100000001';
const kSelectCardInfoInputSupport = '00A4040C0AD3921000310001010408';
const kSelectIndividualNumber = '00A4040C0AD3921000310001010100';

/** IndividualNumberCardPINType → the PIN EF TRET selects before the empty VERIFY. */
const kPinEf = {
  digitalSignature: { select: kSelectJpki, ef: '001B' },
  userAuthentication: { select: kSelectJpki, ef: '0018' },
  cardInfoInputSupport: { select: kSelectCardInfoInputSupport, ef: '0011' },
  individualNumber: { select: kSelectIndividualNumber, ef: '001C' },
} as const;

/** lookupRemainingPIN: SELECT AP, SELECT PIN EF, empty VERIFY; a non-63 answer invalidates the session. */
function remainingTries(wire: Wire, type: keyof typeof kPinEf): number {
  const { select, ef } = kPinEf[type];
  expect(wire.send(select).sw).toBe('9000');
  expect(wire.send(`00A4020C02${ef}`).sw).toBe('9000');
  const r = wire.send('00200080');
  expect(r.sw.slice(0, 2), `${type}: a non-63 answer invalidates the session`).toBe('63');
  return parseInt(r.sw.slice(2), 16) & 0x0f;
}

describe('TRETJapanNFCReader: IndividualNumberReader', () => {
  it('the three AIDs of its select-identifier list each select with P2 0C and no Le → 9000 (sw1 = 90)', () => {
    const wire = new Wire(cards.adult);
    for (const select of [kSelectJpki, kSelectCardInfoInputSupport, kSelectIndividualNumber]) wire.exact(select, '');
  });

  it('readJPKIToken: SELECT JPKI AP, SELECT 0006, READ BINARY Le 0x14 → 20 bytes "JPKIAPICCTOKEN2" + 5 spaces (マイナンバーカード)', () => {
    const wire = new Wire(cards.adult);
    wire.exact(kSelectJpki, '');
    wire.exact('00A4020C020006', '');
    const token = ascii(wire.ok('00B0000014'));
    expect(token).toBe('JPKIAPICCTOKEN2     ');
    expect(token.length).toBe(0x14);
    expect(token.trim()).toBe('JPKIAPICCTOKEN2');
    expect(token.trim()).not.toBe('JPKIAPICCTOKEN'); // 住基カード
  });

  it('readIndividualNumber: VERIFY 0011, SELECT 0001, READ BINARY Le 17; dropping the first byte leaves `10 0C` + the 12 digits', () => {
    const wire = new Wire(cards.adult);
    const pin = cards.adult.image.pins.kenhojo.value;
    wire.exact(kSelectCardInfoInputSupport, '');
    wire.exact('00A4020C020011', '');
    wire.exact(`00200080${b(pin.length)}${asciiHex(pin)}`, '');
    wire.exact('00A4020C020001', '');
    const data = wire.ok(`00B00000${b(17)}`);
    expect(data.length).toBe(17);
    expect(Buffer.from(data).equals(Buffer.from(imageFile(cards.adult, 'kenhojo', '0001')))).toBe(true);
    const rest = data.subarray(1);
    expect(rest[0]).toBe(0x10);
    expect(rest[1]).toBe(0x0c);
    expect(ascii(rest.subarray(2, 2 + 12))).toBe(cards.adult.image.identity.myNumber);
  });

  it('lookupRemainingPIN for 0018, 001B, 0011 and the 住基AP’s 001C: SELECT EF + 00 20 00 80 → 63Cx', () => {
    const wire = new Wire(cards.adult);
    const pins = cards.adult.image.pins;
    expect(remainingTries(wire, 'userAuthentication')).toBe(3);
    expect(remainingTries(wire, 'digitalSignature')).toBe(5);
    expect(remainingTries(wire, 'cardInfoInputSupport')).toBe(pins.kenhojo.remaining);
    expect(remainingTries(wire, 'individualNumber')).toBe(pins.juki.remaining);
    expect(pins.juki.remaining).toBeGreaterThan(0);
  });

  it('a wrong PIN maps to incorrectPIN(n) from 63Cn (n within C1..C5), and the next lookup reports n', () => {
    const wire = new Wire(cards.adult);
    wire.exact(kSelectJpki, '');
    wire.exact('00A4020C02001B', '');
    wire.exact(`00200080${b(6)}${asciiHex('WRONG0')}`, '', triesSw(4));
    expect(remainingTries(wire, 'digitalSignature')).toBe(4);
    wire.exact(kSelectIndividualNumber, '');
    wire.exact('00A4020C02001C', '');
    wire.exact(`00200080${b(4)}${asciiHex('0000')}`, '', triesSw(cards.adult.image.pins.juki.limit - 1));
    expect(remainingTries(wire, 'individualNumber')).toBe(cards.adult.image.pins.juki.limit - 1);
  });

  it('the 住基AP PIN 001C verifies with the card’s PIN (sw1 = 90)', () => {
    const wire = new Wire(cards.adult);
    const pin = cards.adult.image.pins.juki.value;
    wire.exact(kSelectIndividualNumber, '');
    wire.exact('00A4020C02001C', '');
    wire.exact(`00200080${b(pin.length)}${asciiHex(pin)}`, '');
  });
});
