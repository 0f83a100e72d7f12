/**
 * The NCI messages: the card's Type B parameters read back from its contactless ATR, and the
 * controller's answers in their NCI 2.0 and NCI 1.0 forms.
 */
import { describe, expect, it } from 'vitest';
import { kAtrPresets } from '../../../../emulator/index.js';
import {
  describeController,
  listenConfigParams,
  lbBitRate,
  parseActivation,
  parseCoreInitResponse,
  parseCoreResetNotification,
  parseCoreResetResponse,
  parseCredits,
  parseSetConfigResponse,
  typeBParametersFromAtr,
  controllerInfo,
} from '../../../../emulator/transports/nci/messages.js';
import { fromHex, toHex } from '../../../../iso7816/bytes.js';

describe('Type B parameters from the contactless ATR', () => {
  it('reads Application Data and Protocol Info back from the default ATR (PC/SC part 3 form)', () => {
    const typeB = typeBParametersFromAtr(fromHex(kAtrPresets.contactless))!;
    expect(toHex(typeB.applicationData)).toBe('000041E0');
    expect(toHex(typeB.protocolInfo)).toBe('B381A1');
    expect(toHex(typeB.historicalBytes)).toBe('000041E0B381A100');
  });

  it('takes any card\'s Application Data, and refuses a contact ATR or a wrong check byte', () => {
    // 3B 88 80 01 | 12345678 | B3 81 71 | 00 | TCK
    const body = fromHex('888001' + '12345678' + 'B38171' + '00');
    const tck = body.reduce((x, b) => x ^ b, 0);
    const atr = Uint8Array.from([0x3b, ...body, tck]);
    expect(toHex(typeBParametersFromAtr(atr)!.applicationData)).toBe('12345678');
    expect(typeBParametersFromAtr(fromHex(kAtrPresets.contact))).toBeUndefined();
    atr[atr.length - 1] = tck ^ 0xff;
    expect(typeBParametersFromAtr(atr)).toBeUndefined();
  });

  it('configures the controller so that ATQB carries that Application Data, bit rates and FWI/ADC/FO', () => {
    const typeB = typeBParametersFromAtr(fromHex(kAtrPresets.contactless))!;
    const params = listenConfigParams({ technologies: ['B'], typeB, pupi: fromHex('01020304'), nfcid1: fromHex('08010203') });
    const shown = (list: typeof params): string[] => list.map((p) => `${p.id.toString(16).toUpperCase()}=${toHex(p.value)}`);
    expect(shown(params)).toEqual(['38=01', '39=01020304', '3A=000041E0', '3B=00', '3C=A1', '3E=02', '5A=', '80=01']);
  });

  it('reads LB_BIT_RATE off Protocol Info byte 1', () => {
    expect([0x00, 0x91, 0x11, 0xb3, 0x22, 0x80, 0xf7, 0x04].map(lbBitRate)).toEqual([0, 1, 1, 2, 2, 0, 3, 3]);
  });
});

describe('controller answers', () => {
  it('tells NCI 1.x from NCI 2.0 by the CORE_RESET_RSP', () => {
    expect(parseCoreResetResponse(fromHex('00'))).toEqual({ status: 0 });
    expect(parseCoreResetResponse(fromHex('001101'))).toEqual({ status: 0, nciVersion: 0x11, configStatus: 1 });
    expect(parseCoreResetNotification(fromHex('0201200404AABBCCDD'))).toMatchObject({ trigger: 2, configStatus: 1, nciVersion: 0x20, manufacturerId: 4 });
  });

  it('parses CORE_INIT_RSP in both layouts, interfaces with extensions included', () => {
    const v2 = parseCoreInitResponse(fromHex('00 01020304 02 0002 80 FE 01 0001 03 01 00 02 01 AA 80 00'), 0x20);
    expect(v2).toMatchObject({ status: 0, maxLogicalConnections: 2, maxRoutingTableSize: 0x200, maxControlPayload: 0x80, maxHciDataPayload: 0xfe, hciCredits: 1, interfaces: [1, 2, 0x80] });
    const v1 = parseCoreInitResponse(fromHex('00 01020304 02 01 02 03 0001 FF 0001 04 0A0B0C0D'), 0x10);
    expect(v1).toMatchObject({ status: 0, interfaces: [1, 2], maxLogicalConnections: 3, maxRoutingTableSize: 0x100, maxControlPayload: 0xff, maxLargeParams: 0x100, manufacturerId: 4 });
    expect(describeController(controllerInfo({ status: 0, nciVersion: 0x10 }, undefined, v1))).toBe(
      'NCI 1.0, manufacturer 0x04 (NXP) (info 0A0B0C0D), max control payload 255, RF interfaces Frame, ISO-DEP',
    );
    expect(() => parseCoreInitResponse(fromHex('00 01020304 02'), 0x20)).toThrow(/CORE_INIT_RSP ends early/);
  });

  it('parses the activation, the credits and the refused parameters', () => {
    expect(parseActivation(fromHex('01 02 04 81 FC 02 00 81 00 00 01 80'))).toMatchObject({
      rfInterface: 2,
      rfProtocol: 4,
      techAndMode: 0x81,
      maxDataPayload: 0xfc,
      initialCredits: 2,
      dataExchangeTechAndMode: 0x81,
    });
    expect(toHex(parseActivation(fromHex('01 02 04 81 FC 02 00 81 00 00 01 80')).activationParams)).toBe('80');
    expect(parseCredits(fromHex('02 00 01 01 03'))).toEqual([
      { connId: 0, credits: 1 },
      { connId: 1, credits: 3 },
    ]);
    expect(parseSetConfigResponse(fromHex('09 02 80 3B'))).toEqual({ status: 9, invalid: [0x80, 0x3b] });
  });
});
