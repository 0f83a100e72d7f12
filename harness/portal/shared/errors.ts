/**
 * The error class of a portal's one error registry: a stable code, the HTTP status and the message
 * for people from the registry, and a detail that says what exactly was wrong. Each portal keeps its
 * own registry and names its own class (`class CitizenError extends registryErrorClass(...) {}`).
 */

export type ErrorRegistry<C extends string> = Readonly<Record<C, { readonly status: number; readonly message: string }>>;

export function registryErrorClass<C extends string>(name: string, registry: ErrorRegistry<C>) {
  return class extends Error {
    readonly status: number;
    constructor(
      readonly code: C,
      readonly detail?: string,
      /** Shown after the registry's message, e.g. the tries left. */
      readonly note?: string,
    ) {
      super(detail ? `${code}: ${detail}` : code);
      this.name = name;
      this.status = registry[code].status;
    }

    get userMessage(): string {
      return this.note ? `${registry[this.code].message}${this.note}` : registry[this.code].message;
    }
  };
}

/** An error of any portal's registry, as the shared app and checks handle it. */
export type RegistryError<C extends string = string> = InstanceType<ReturnType<typeof registryErrorClass<C>>>;
