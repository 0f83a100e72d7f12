/*
 * A neutral PC/SC client for the benchmark: it knows nothing of jpki-hil. It connects to one
 * reader through libpcsclite, selects the JPKI AP once, then for the given seconds either
 * repeats SELECT of EF 0006 (mode "apdu") or, after VERIFY of the auth PIN read from the
 * environment variable PCSC_LOOP_PIN, signs a DigestInfo: with the auth key selected once and
 * one COMPUTE DIGITAL SIGNATURE per signature (mode "sign"), or with SELECT of the key before
 * each signature, as MYNA mpa's sign() does per digest (mode "select-sign").
 * It prints one line: "<count> <seconds> <median ms>".
 *
 * Build: cc -O2 -o pcsc-loop pcsc-loop.c $(pkg-config --cflags --libs libpcsclite)
 * Usage: pcsc-loop <reader name> <apdu|sign|select-sign> <seconds>
 */
#include <PCSC/winscard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static SCARDHANDLE card;
static DWORD protocol;

static int transmit(const unsigned char *cmd, DWORD len, const char *what) {
  unsigned char rsp[300];
  DWORD rlen = sizeof rsp;
  const SCARD_IO_REQUEST *pci = protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
  LONG rv = SCardTransmit(card, pci, cmd, len, NULL, rsp, &rlen);
  if (rv != SCARD_S_SUCCESS) {
    fprintf(stderr, "pcsc-loop: %s: %s\n", what, pcsc_stringify_error(rv));
    return -1;
  }
  if (rlen < 2 || rsp[rlen - 2] != 0x90 || rsp[rlen - 1] != 0x00) {
    fprintf(stderr, "pcsc-loop: %s: card answered %02X%02X\n", what, rlen >= 2 ? rsp[rlen - 2] : 0, rlen >= 2 ? rsp[rlen - 1] : 0);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4 || (strcmp(argv[2], "apdu") != 0 && strcmp(argv[2], "sign") != 0 && strcmp(argv[2], "select-sign") != 0)) {
    fprintf(stderr, "usage: pcsc-loop <reader name> <apdu|sign|select-sign> <seconds>\n");
    return 2;
  }
  const char *reader = argv[1];
  int reselect = strcmp(argv[2], "select-sign") == 0;
  int sign = reselect || strcmp(argv[2], "sign") == 0;
  double seconds = atof(argv[3]);
  SCARDCONTEXT ctx;
  LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
  if (rv != SCARD_S_SUCCESS) {
    fprintf(stderr, "pcsc-loop: no PC/SC service: %s\n", pcsc_stringify_error(rv));
    return 1;
  }
  rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card, &protocol);
  if (rv != SCARD_S_SUCCESS) {
    fprintf(stderr, "pcsc-loop: connect to '%s': %s\n", reader, pcsc_stringify_error(rv));
    return 1;
  }
  static const unsigned char select_ap[] = {0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01};
  static const unsigned char select_token[] = {0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x06};
  static const unsigned char select_pin[] = {0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18};
  static const unsigned char select_key[] = {0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17};
  /* 80 2A 00 80, Lc 33, the SHA-256 DigestInfo of a fixed digest, Le 00. */
  unsigned char sign_cmd[5 + 51 + 1] = {0x80, 0x2A, 0x00, 0x80, 51, 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                        0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
  if (transmit(select_ap, sizeof select_ap, "SELECT JPKI AP") != 0) return 1;
  if (sign) {
    const char *pin = getenv("PCSC_LOOP_PIN");
    if (!pin || strlen(pin) < 4 || strlen(pin) > 16) {
      fprintf(stderr, "pcsc-loop: set PCSC_LOOP_PIN to the auth PIN for modes sign and select-sign\n");
      return 2;
    }
    unsigned char verify[5 + 16] = {0x00, 0x20, 0x00, 0x80, (unsigned char)strlen(pin)};
    memcpy(verify + 5, pin, strlen(pin));
    if (transmit(select_pin, sizeof select_pin, "SELECT auth PIN") != 0) return 1;
    if (transmit(verify, 5 + strlen(pin), "VERIFY") != 0) return 1;
    for (int i = 0; i < 32; i++) sign_cmd[24 + i] = (unsigned char)(i * 7 + 1);
    if (!reselect && transmit(select_key, sizeof select_key, "SELECT auth key") != 0) return 1;
  }
  size_t cap = 1 << 16, n = 0;
  double *times = malloc(cap * sizeof *times);
  double start = now_ms(), end = start + seconds * 1000.0, t = start;
  while (t < end) {
    double t0 = now_ms();
    if (sign) {
      sign_cmd[24] = (unsigned char)n;
      if (reselect && transmit(select_key, sizeof select_key, "SELECT auth key") != 0) return 1;
      if (transmit(sign_cmd, sizeof sign_cmd, "SIGN") != 0) return 1;
    } else if (transmit(select_token, sizeof select_token, "SELECT EF 0006") != 0) {
      return 1;
    }
    t = now_ms();
    if (n == cap) times = realloc(times, (cap *= 2) * sizeof *times);
    times[n++] = t - t0;
  }
  qsort(times, n, sizeof *times, cmp_double);
  /* Nearest rank, as harness/stats/percentile.ts. */
  size_t rank = (n + 1) / 2;
  printf("%zu %.4f %.4f\n", n, (t - start) / 1000.0, n ? times[rank - 1] : 0.0);
  SCardDisconnect(card, SCARD_UNPOWER_CARD);
  SCardReleaseContext(ctx);
  return 0;
}
