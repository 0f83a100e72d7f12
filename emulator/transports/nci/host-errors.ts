/** The errors of the NCI card host: the public ones it stops with, and the internal ones it unwinds with. */

export class NciHostError extends Error {
  constructor(
    message: string,
    /** Retrying cannot help (the controller lacks what the card needs). */
    readonly fatal = false,
  ) {
    super(message);
    this.name = 'NciHostError';
  }
}

/** The serial port (or whatever carried NCI) is gone. */
export class NciPortGoneError extends NciHostError {
  constructor(message: string) {
    super(message, true);
    this.name = 'NciPortGoneError';
  }
}

/** An operation belongs to an initialisation that was superseded (reset, stop). */
export class StaleError extends Error {
  constructor() {
    super('superseded');
  }
}

/** The RF session an answer belonged to has ended. */
export class SessionEndedError extends Error {}
