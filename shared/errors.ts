/** Base of every error the bridge raises on purpose; `cause` keeps the underlying failure. */
export class BridgeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BridgeError';
  }
}

/** A setting is missing or invalid. The message names the setting, never its secret value. */
export class ConfigError extends BridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}
