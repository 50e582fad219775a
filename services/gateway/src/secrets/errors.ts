/*
 * Errors of the secrets module. They are not KordonError because KordonErrorCode is a closed
 * union in @kordon/events; they carry the same `code` / `isRetryable` pair so edges can treat
 * them alike. Messages name ids (org, provider key, master key) and never a secret, a key or
 * any part of a ciphertext.
 */

/** Why a record could not be decrypted (or re-wrapped). */
export type SecretDecryptionReason =
  /** A field is missing, not canonical base64, or has the wrong size; or the algorithm is unknown. */
  | 'malformed_record'
  /** The record format version (first byte of wrappedDataKey) is not one this build reads. */
  | 'unsupported_version'
  /** The ring holds no master key with the record's keyId (an old key was dropped too early?). */
  | 'unknown_master_key'
  /** The data key failed authentication: wrong master key, or wrappedDataKey/keyId was altered. */
  | 'data_key_unwrap_failed'
  /**
   * The secret failed authentication: iv, ciphertext or authTag was altered, or the record
   * belongs to another org or provider key (the associated data does not match).
   */
  | 'authentication_failed';

export class SecretDecryptionError extends Error {
  readonly code = 'secret_undecryptable' as const;
  readonly isRetryable = false;
  readonly reason: SecretDecryptionReason;
  /** The master key id the record names, when it could be read. */
  readonly keyId: string | null;
  override readonly cause?: unknown;

  constructor(
    reason: SecretDecryptionReason,
    message: string,
    options: { keyId?: string | null; cause?: unknown } = {},
  ) {
    super(message);
    this.name = 'SecretDecryptionError';
    this.reason = reason;
    this.keyId = options.keyId ?? null;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

/** A plaintext or context that cannot be encrypted (empty, too large, invalid id...). */
export class InvalidSecretError extends Error {
  readonly code = 'secret_invalid' as const;
  readonly isRetryable = false;

  constructor(message: string) {
    super(message);
    this.name = 'InvalidSecretError';
  }
}

export function isSecretDecryptionError(
  error: unknown,
  reason?: SecretDecryptionReason,
): error is SecretDecryptionError {
  return error instanceof SecretDecryptionError && (reason === undefined || error.reason === reason);
}
