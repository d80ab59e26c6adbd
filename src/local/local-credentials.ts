// The local stack's ClusterCredentialVault: clear SASL credentials of clusters registered
// through the API, by cluster name. With a data dir they are kept in `kafka-credentials.json`
// there (mode 0600, in the 0700 data dir, replaced atomically) so that they survive a restart;
// without one, in memory like everything else. Never in the embedded store, whose files hold the
// clusters without them. The local event source takes them from here, as it takes config-file
// credentials from memory.
import { chmod, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { PROP_SASL_PASSWORD, PROP_SASL_USERNAME } from "../core/cluster-properties.ts";
import type { ClusterCredentialVault, SaslCredentials } from "../core/ports.ts";

export const CREDENTIALS_FILE = "kafka-credentials.json";

export interface LocalCredentialVault extends ClusterCredentialVault {
  /** The credentials kept for an API cluster, as Kafka client properties (`sasl.*`). */
  get(clusterName: string): Readonly<Record<string, string>> | undefined;
}

function parseCredentials(text: string, path: string): Map<string, SaslCredentials> {
  const fail = (): never => {
    // The content is never shown: it holds passwords.
    throw new Error(
      `${path} is not a credentials file of the local stack (expected {"clusters": {"<name>": {"username": "...", "password": "..."}}}); move it away to start without the credentials it held`,
    );
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail();
  }
  const clusters = (parsed as { clusters?: unknown } | null)?.clusters;
  if (typeof clusters !== "object" || clusters === null || Array.isArray(clusters)) return fail();
  const kept = new Map<string, SaslCredentials>();
  for (const [name, value] of Object.entries(clusters)) {
    const { username, password } = (value ?? {}) as Record<string, unknown>;
    if (typeof username !== "string" || typeof password !== "string") return fail();
    kept.set(name, { username, password });
  }
  return kept;
}

/** Opens the vault; with `dataDir`, reads what an earlier run kept there. */
export async function openLocalCredentialVault(
  dataDir: string | undefined,
): Promise<LocalCredentialVault> {
  const path = dataDir === undefined ? undefined : join(dataDir, CREDENTIALS_FILE);
  let kept = new Map<string, SaslCredentials>();
  if (path !== undefined) {
    let text: string | undefined;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    if (text !== undefined) {
      kept = parseCredentials(text, path);
      await chmod(path, 0o600);
    }
  }

  // Writes one at a time, each to a new private file that then replaces the old one.
  let writing: Promise<void> = Promise.resolve();
  const save = (): Promise<void> => {
    if (path === undefined) return Promise.resolve();
    const content = `${JSON.stringify({ clusters: Object.fromEntries(kept) }, null, 2)}\n`;
    const next = writing.then(async () => {
      const temporary = `${path}.${process.pid}.tmp`;
      const file = await open(temporary, "w", 0o600);
      try {
        await file.chmod(0o600);
        await file.writeFile(content, "utf8");
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temporary, path);
    });
    writing = next.catch(() => {});
    return next;
  };

  return {
    owns: () => false,
    async put(cluster, credentials) {
      kept.set(cluster.name, { username: credentials.username, password: credentials.password });
      await save();
      return {};
    },
    async replace(cluster, credentials) {
      kept.set(cluster.name, { username: credentials.username, password: credentials.password });
      await save();
    },
    async remove(cluster) {
      if (!kept.delete(cluster.name)) return;
      await save();
    },
    get(clusterName) {
      const credentials = kept.get(clusterName);
      return credentials === undefined
        ? undefined
        : {
            [PROP_SASL_USERNAME]: credentials.username,
            [PROP_SASL_PASSWORD]: credentials.password,
          };
    },
  };
}
