// The one mapping of Lambda control-plane errors into the vocabulary, which the feed loops rely on.
import {
  InvalidParameterValueException,
  ResourceConflictException,
  ResourceInUseException,
  ResourceNotFoundException,
  ServiceException,
} from "@aws-sdk/client-lambda";
import { describe, expect, it } from "vitest";
import { lambdaError } from "../../src/adapters/lambda-feeds.ts";
import {
  ConflictError,
  DependencyError,
  NotFoundError,
  ValidationError,
} from "../../src/core/errors.ts";

const meta = { $metadata: {} };

describe("lambdaError", () => {
  it("maps a missing mapping or alias to NotFoundError", () => {
    const error = lambdaError(
      "DeleteAlias",
      new ResourceNotFoundException({ message: "gone", ...meta }),
    );
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe("Lambda DeleteAlias failed: ResourceNotFoundException: gone");
  });

  it("maps a busy mapping or alias to ConflictError, the one kind worth another try", () => {
    for (const busy of [
      new ResourceInUseException({ message: "Updating", ...meta }),
      new ResourceConflictException({ message: "exists", ...meta }),
    ]) {
      const error = lambdaError("UpdateEventSourceMapping", busy);
      expect(error).toBeInstanceOf(ConflictError);
      expect(error.retryable).toBe(true);
      expect(error.cause).toBe(busy);
    }
  });

  it("returns AWS's validation message as a ValidationError", () => {
    const error = lambdaError(
      "CreateEventSourceMapping",
      new InvalidParameterValueException({ message: "Topic name is invalid.", ...meta }),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toBe(
      "AWS Lambda rejected CreateEventSourceMapping: Topic name is invalid.",
    );
  });

  it("maps anything else to DependencyError", () => {
    const failure = new ServiceException({ message: "boom", ...meta });
    const error = lambdaError("CreateAlias", failure);
    expect(error).toBeInstanceOf(DependencyError);
    expect(error.message).toBe("Lambda CreateAlias failed: ServiceException: boom");
    expect(lambdaError("CreateAlias", "odd")).toBeInstanceOf(DependencyError);
  });
});
