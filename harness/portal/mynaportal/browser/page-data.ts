/**
 * What a Mynaportal page hands its script in `<script type="application/json">`: the server's views
 * build these objects and the browser scripts read them, so both sides are checked against one type.
 * Types only: this file is part of the server's program and of the browser's.
 */

/** The agent codes of docs/portal-protocols.md and what the pages say for each. */
export type AgentMessages = Readonly<Record<string, string>>;

/** `login-messages` on the login page (L-01). */
export interface LoginPageMessages {
  readonly agent: AgentMessages;
  /** WRONG_PIN with the tries left, `{n}` standing for the number. */
  readonly wrongPinWithTries: string;
  readonly unknownAgent: string;
  readonly qrExpired: string;
  readonly status: Readonly<Record<'connecting' | 'checkingCard' | 'enterPin' | 'verifying' | 'readingCardInfo' | 'loggedIn' | 'qrCreating' | 'qrShown' | 'unexpected', string>>;
}

/** `application-messages` on the application pages (AP-01, AP-02). */
export interface ApplicationPageMessages {
  readonly agent: AgentMessages;
  readonly unknownAgent: string;
  readonly status: Readonly<Record<'connecting' | 'readingCardInfo' | 'prefilled' | 'creating' | 'waiting' | 'signed' | 'expired' | 'confirmSubmit' | 'unexpected', string>>;
}
