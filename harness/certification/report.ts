/**
 * What a certification says, as data: the device's declared capabilities (from its profile, like an
 * implementation conformance statement), the suite and its version, and a verdict per scenario —
 * pass, fail, or not applicable with the reason. `certification.json` is this, and it is what the
 * test CA signs; the HTML page and the compatibility matrix are drawn from it.
 */
import type { DeviceProfile } from '../profiles/profile.js';
import type { FailureClassification } from '../runner/results.js';

export type Verdict = 'pass' | 'fail' | 'not-applicable';

export interface ScenarioVerdict {
  id: string;
  title: string;
  verdict: Verdict;
  /** Not applicable: why; fail: what went wrong (first line), with whose fault it was. */
  reason?: string | undefined;
  classification?: FailureClassification | undefined;
  durationMs: number;
}

/** The profile's declared capabilities, as certified (no sources: those stay in the profile file). */
export interface DeclaredCapabilities {
  kind: DeviceProfile['kind'];
  interface: DeviceProfile['interface'];
  atr: DeviceProfile['atr'];
  apdu: DeviceProfile['apdu'];
  latency: DeviceProfile['latency'];
  timeouts: DeviceProfile['timeouts'];
  session: DeviceProfile['session'];
  select: DeviceProfile['select'];
  faults: DeviceProfile['faults'];
  phone?: DeviceProfile['phone'] | undefined;
}

export interface CertificationReport {
  format: 'jpki-hil-certification/1';
  suite: string;
  suiteVersion: string;
  harnessVersion: string;
  generatedAt: string;
  /** Where the card sat: the in-process emulator, or a PC/SC reader. */
  reader: string;
  seed: number;
  device: { id: string; name: string; modelled: DeviceProfile['modelled']; description: string; profileSha256: string };
  capabilities: DeclaredCapabilities;
  results: ScenarioVerdict[];
  summary: { pass: number; fail: number; notApplicable: number };
  /** Certified when every applicable scenario passed (and at least one applied). */
  certified: boolean;
}

export interface MatrixReport {
  format: 'jpki-hil-matrix/1';
  suite: string;
  suiteVersion: string;
  harnessVersion: string;
  generatedAt: string;
  reader: string;
  seed: number;
  scenarios: { id: string; title: string }[];
  devices: { id: string; name: string; kind: DeviceProfile['kind']; modelled: DeviceProfile['modelled']; certified: boolean }[];
  /** cells[device id][scenario id] */
  cells: Record<string, Record<string, { verdict: Verdict; reason?: string | undefined }>>;
}

export function declaredCapabilities(p: DeviceProfile): DeclaredCapabilities {
  return {
    kind: p.kind,
    interface: p.interface,
    atr: p.atr,
    apdu: p.apdu,
    latency: p.latency,
    timeouts: p.timeouts,
    session: p.session,
    select: p.select,
    faults: p.faults,
    ...(p.phone ? { phone: p.phone } : {}),
  };
}
