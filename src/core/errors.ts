// Error vocabulary of the product. Adapters translate SDK errors into these; the admin API maps
// them to HTTP status codes in one place.

export class ValidationError extends Error {
  override readonly name = "ValidationError";
}

export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
}

export class AlreadyExistsError extends Error {
  override readonly name = "AlreadyExistsError";
}

/** The entity exists but cannot be changed now (e.g. a cluster still used by a subscription). */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
}

/** A dependency (storage, control plane) failed; the message is safe to log, not to return. */
export class DependencyError extends Error {
  override readonly name = "DependencyError";
}
