/**
 * The APDU channel: the one contract between whoever sends commands (the JPKI client, the PC agent,
 * the runner's raw steps) and whatever carries them to a card (the in-process emulator, pcscd, a
 * phone's NFC). It carries one encoded C-APDU and brings back the card's R-APDU, status word
 * included; it never interprets either.
 */
export interface ApduChannel {
  transmit(command: Uint8Array): Promise<Uint8Array>;
}
