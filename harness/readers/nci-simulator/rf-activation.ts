/**
 * What a Type B reader meets when it activates the card: whether the DH listens the way it must
 * (NFC-B, ISO-DEP mapped to the ISO-DEP interface), the ATQB that the listen-B parameters
 * describe, and the RF_INTF_ACTIVATED_NTF the NFCC sends the DH.
 */
import { concat, hexByte } from '../../../iso7816/bytes.js';
import { kParam, kRfInterface, kRfProtocol, kTechMode } from './nci-packets.js';

/** The listen-B bit rate (LB_BIT_RATE) as the bit-rate capability byte of Protocol Info. */
const kBitRateCapability: Record<number, number> = {
  0x00: 0x00, // 106 kbit/s only
  0x01: 0x91, // up to 212, same rate both ways
  0x02: 0xb3, // up to 424
  0x03: 0xf7, // up to 848
};

/** What the simulated NFCC presents when the DH sets nothing (the NFCC decides, per NCI). */
const kDefaults = {
  /** NCI's default: 106 kbit/s only (bit-rate capability 00) unless the DH asks for more. */
  lbBitRate: 0x00,
  /** ISO-DEP supported (Protocol_Type b1). */
  lbSensbInfo: 0x01,
  /** The NFCC's own listen frame size, Max_Frame_Size code 8: 256 bytes (FSCI of its ISO-DEP buffer). */
  maxFrameSizeCode: 0x8,
  /** FWI 7, no ADC, CID supported. */
  lbFwiAdcFo: 0x71,
  lbApplicationData: new Uint8Array(4),
};

/** SENSB_RES starts with 50. */
const kSensbRes = 0x50;
/** RF_DISCOVER_MAP's mode bit for listen mode. */
const kMapModeListen = 0x02;

/** "0x81, 0x80": RF_DISCOVER's technologies and modes, for logs. */
export function describeTechModes(configs: ReadonlyArray<{ techMode: number }>): string {
  return configs.map((c) => `0x${hexByte(c.techMode)}`).join(', ');
}

/** Why a Type B reader cannot activate the card as the DH set the NFCC up, or undefined when it can. */
export function listenProblem(
  discoverConfigs: ReadonlyArray<{ techMode: number }>,
  discoverMap: ReadonlyArray<{ protocol: number; mode: number; rfInterface: number }>,
): string | undefined {
  if (!discoverConfigs.some((c) => c.techMode === kTechMode.nfcBPassiveListen)) {
    return `the DH did not ask to listen as NFC-B (RF_DISCOVER had ${describeTechModes(discoverConfigs) || 'nothing'})`;
  }
  if (!discoverMap.some((m) => m.protocol === kRfProtocol.isoDep && (m.mode & kMapModeListen) !== 0 && m.rfInterface === kRfInterface.isoDep)) {
    return 'RF_DISCOVER_MAP has no ISO-DEP mapping to the ISO-DEP interface in listen mode';
  }
  return undefined;
}

/** The ATQB (SENSB_RES) with PUPI `pupi`, from the listen-B parameters in `config`. */
export function atqbFromConfig(config: ReadonlyMap<number, Uint8Array>, pupi: Uint8Array): Uint8Array {
  const appData = config.get(kParam.lbApplicationData) ?? kDefaults.lbApplicationData;
  const bitRate = config.get(kParam.lbBitRate)?.[0] ?? kDefaults.lbBitRate;
  // Byte 2 is Max_Frame_Size | Protocol_Type. LB_SENSB_INFO "is used to generate" it: DHs send
  // either the protocol bits alone (01, ISO-DEP) or the whole byte (81); the NFCC fills in its own
  // frame size when the DH leaves the high nibble empty, which serves both readings.
  const sensbInfo = config.get(kParam.lbSensbInfo)?.[0] ?? kDefaults.lbSensbInfo;
  const byte2 = (sensbInfo & 0xf0) !== 0 ? sensbInfo : (kDefaults.maxFrameSizeCode << 4) | (sensbInfo & 0x0f);
  const protocolInfo = [kBitRateCapability[bitRate] ?? kBitRateCapability[kDefaults.lbBitRate]!, byte2, config.get(kParam.lbFwiAdcFo)?.[0] ?? kDefaults.lbFwiAdcFo];
  return concat(Uint8Array.of(kSensbRes), pupi, appData, Uint8Array.from(protocolInfo));
}

/** RF_INTF_ACTIVATED_NTF for ISO-DEP over NFC-B listen, at 106 kbit/s both ways. */
export function activatedPayload(maxDataPayload: number, initialCredits: number, higherLayer: Uint8Array): number[] {
  return [
    0x01, // RF discovery id
    kRfInterface.isoDep,
    kRfProtocol.isoDep,
    kTechMode.nfcBPassiveListen,
    maxDataPayload,
    initialCredits,
    0x00, // no technology-specific parameters for listen B
    kTechMode.nfcBPassiveListen,
    0x00, // 106 kbit/s transmit
    0x00, // 106 kbit/s receive
    higherLayer.length,
    ...higherLayer,
  ];
}
