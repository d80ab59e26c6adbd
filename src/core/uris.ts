// Subscription endpoints: `kafka://<cluster>/<topic>` (source) and `service://<Service>/<handler>`
// (sink). Pure parsing with messages that say what was expected, carrying Restate's code for
// invalid subscription URIs.
import { ValidationError } from "./errors.ts";

/** Restate's code for an invalid subscription (its source or sink URI, an unknown sink). */
export const SUBSCRIPTION_ERROR_CODE = "META0009";

/** A refused subscription source or sink, as Restate codes it. */
export const invalidSubscription = (message: string): ValidationError =>
  new ValidationError(message, { restateCode: SUBSCRIPTION_ERROR_CODE });

export interface KafkaSource {
  readonly cluster: string;
  readonly topic: string;
}

export interface ServiceSink {
  readonly service: string;
  readonly handler: string;
}

/** Cluster names: also the `name` of `/kafka-clusters` and of `[[ingress.kafka-clusters]]`. */
export const CLUSTER_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
/** Kafka's own rule for topic names (legal characters, at most 249, not `.` or `..`). */
export const TOPIC_PATTERN = /^[a-zA-Z0-9._-]{1,249}$/;
/** Service names as Restate allows them in its ingress paths (letters, digits, `_`, `.`, `-`). */
export const SERVICE_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_.-]{0,127}$/;
/** Handler names: identifiers. */
export const HANDLER_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]{0,127}$/;

/** Shortens user input before quoting it in an error message. */
export function quote(value: string, max = 80): string {
  const shown = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(shown);
}

function splitUri(uri: string, scheme: string, shape: string, what: string): [string, string] {
  const prefix = `${scheme}://`;
  if (!uri.startsWith(prefix)) {
    throw invalidSubscription(`${what} must look like ${shape}, got ${quote(uri)}`);
  }
  const rest = uri.slice(prefix.length);
  const parts = rest.split("/");
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw invalidSubscription(`${what} must look like ${shape}, got ${quote(uri)}`);
  }
  return [parts[0], parts[1]];
}

export function parseSource(uri: string): KafkaSource {
  const [cluster, topic] = splitUri(uri, "kafka", "kafka://<cluster>/<topic>", "source");
  if (!CLUSTER_NAME_PATTERN.test(cluster)) {
    throw invalidSubscription(
      `source cluster name ${quote(cluster)} is invalid: use 1 to 64 letters, digits, '_' or '-'`,
    );
  }
  if (!TOPIC_PATTERN.test(topic) || topic === "." || topic === "..") {
    throw invalidSubscription(
      `source topic ${quote(topic)} is not a valid Kafka topic name: use 1 to 249 letters, digits, '.', '_' or '-' (and not "." or "..")`,
    );
  }
  return { cluster, topic };
}

export function parseSink(uri: string): ServiceSink {
  const [service, handler] = splitUri(uri, "service", "service://<Service>/<handler>", "sink");
  if (!SERVICE_NAME_PATTERN.test(service)) {
    throw invalidSubscription(
      `sink service name ${quote(service)} is invalid: start with a letter or '_', then letters, digits, '_', '.' or '-' (at most 128)`,
    );
  }
  if (!HANDLER_NAME_PATTERN.test(handler)) {
    throw invalidSubscription(
      `sink handler name ${quote(handler)} is invalid: start with a letter or '_', then letters, digits or '_' (at most 128)`,
    );
  }
  return { service, handler };
}

export const formatSource = (source: KafkaSource): string =>
  `kafka://${source.cluster}/${source.topic}`;

export const formatSink = (sink: ServiceSink): string =>
  `service://${sink.service}/${sink.handler}`;
