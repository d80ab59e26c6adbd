// The local event source's `FilterCriteria`: records of an ESM event that no pattern lets through
// are left out, as the mapping leaves them out (their offsets are committed with the batch).
// Records the schema registry could not decode stay, so that they are dead-lettered.
import { base64ToBytes } from "../../core/encoding.ts";
import { type FilterPattern, recordPasses } from "../../core/event-filter.ts";
import type { EsmKafkaEvent, EsmKafkaRecord } from "./batching.ts";

/** The event with only the records that pass; undefined when none does (nothing to invoke). */
export function filterEvent(
  event: EsmKafkaEvent,
  patterns: readonly FilterPattern[],
): EsmKafkaEvent | undefined {
  const records: Record<string, EsmKafkaRecord[]> = {};
  let kept = 0;
  for (const [id, partitionRecords] of Object.entries(event.records)) {
    const passing = partitionRecords.filter(
      (record) =>
        record.schemaRegistryError !== undefined ||
        recordPasses(patterns, record.value === null ? null : base64ToBytes(record.value)),
    );
    if (passing.length === 0) continue;
    records[id] = passing;
    kept += passing.length;
  }
  return kept === 0 ? undefined : { ...event, records };
}
