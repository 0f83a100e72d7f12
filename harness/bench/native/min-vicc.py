#!/usr/bin/env python3
"""The benchmark's reference virtual card: the least a vicc can do on vsmartcard's vpcd protocol.

It connects to vpcd, answers the ATR request with the ATR it is given, and answers every APDU with
9000 and no data, so that the APDU round trips it allows are the cost of pcscd, vpcd and the socket
alone. Usage: min-vicc.py <host> <port> <ATR hex>. It prints "ready" once connected and runs until
vpcd closes the connection or it is killed.
"""
import socket
import sys


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: min-vicc.py <host> <port> <ATR hex>\n")
        return 2
    host, port, atr = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ok = b"\x00\x02\x90\x00"
    atr_frame = len(atr).to_bytes(2, "big") + atr
    print("ready", flush=True)
    while True:
        header = read_exact(sock, 2)
        if header is None:
            return 0
        payload = read_exact(sock, int.from_bytes(header, "big"))
        if payload is None:
            return 0
        if len(payload) == 1:
            if payload[0] == 0x04:
                sock.sendall(atr_frame)
            continue
        sock.sendall(ok)


if __name__ == "__main__":
    sys.exit(main())
