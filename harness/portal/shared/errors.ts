/**
 * The error base of every portal: a stable code, the HTTP status and the message for people from
 * the portal's one registry, and a detail that says what exactly was wrong. Each portal keeps its
 * codes as data and names its own class (`class CitizenError extends registryErrorClass(...) {}`);
 * the one error handler (error-answers.ts) turns any of them into the answer.
 */

export interface ErrorEntry {
  readonly status: number;
  /** The Japanese sentence shown to people; scenarios match on the code, never on this. */
  readonly message: string;
}

export type ErrorRegistry<C extends string> = Readonly<Record<C, ErrorEntry>>;

/** What every error answer carries; `detail` (why, for the runner's report) only in test mode. */
export interface ErrorBody<C extends string = string> {
  code: C;
  message: string;
  detail?: string;
}

export class RegistryError<C extends string = string> extends Error {
  readonly status: number;
  /** The registry's message, and the note after it when there is one. */
  readonly userMessage: string;

  constructor(
    registry: ErrorRegistry<C>,
    readonly code: C,
    /** For logs and test mode: what exactly was wrong. Never shown to people by default. */
    readonly detail?: string,
    /** Shown after the registry's message, e.g. the tries left. */
    readonly note?: string,
  ) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'RegistryError';
    this.status = registry[code].status;
    this.userMessage = note ? `${registry[code].message}${note}` : registry[code].message;
  }

  body(withDetail: boolean): ErrorBody<C> {
    const body: ErrorBody<C> = { code: this.code, message: this.userMessage };
    if (withDetail && this.detail) body.detail = this.detail;
    return body;
  }
}

/** The error class of one registry, for a portal to name. */
export function registryErrorClass<C extends string>(name: string, registry: ErrorRegistry<C>) {
  return class extends RegistryError<C> {
    constructor(code: C, detail?: string, note?: string) {
      super(registry, code, detail, note);
      this.name = name;
    }
  };
}

export function isRegistryCode<C extends string>(registry: ErrorRegistry<C>, code: string): code is C {
  return Object.hasOwn(registry, code);
}
