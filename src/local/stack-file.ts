// The local stack's data dir, private to the user, and `stack.json` in it, where the running
// stack announces its store and the store's access key so that `npm run invoke` can use them.
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface StackInfo {
  readonly adminUrl: string;
  readonly dynamodbEndpoint: string;
  /** The embedded store serves only requests signed with this access key id (new every start). */
  readonly dynamodbAccessKeyId: string;
  readonly tableName: string;
  readonly pid: number;
}

const fileName = "stack.json";

/** Creates `dir` (and missing parents) readable by the user only, and makes an existing one so. */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

export async function writeStackInfo(dataDir: string, info: StackInfo): Promise<void> {
  const path = join(dataDir, fileName);
  await writeFile(path, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600); // a file left behind keeps its old mode through writeFile
}

export async function removeStackInfo(dataDir: string): Promise<void> {
  await rm(join(dataDir, fileName), { force: true });
}

/** Throws when a live stack other than this process already uses `dataDir`: two stacks on one
 * store would both consume the same subscriptions. */
export async function claimDataDir(dataDir: string): Promise<void> {
  let info: StackInfo;
  try {
    info = JSON.parse(await readFile(join(dataDir, fileName), "utf8")) as StackInfo;
  } catch {
    return; // none, or unreadable: nobody to ask
  }
  if (info.pid === process.pid) return;
  try {
    process.kill(info.pid, 0);
  } catch {
    return; // left behind by a stack that is gone
  }
  throw new Error(
    `a local stack (pid ${info.pid}, admin API ${info.adminUrl}) already uses ${dataDir}; stop it, or start this one with another --data-dir`,
  );
}

export async function readStackInfo(dataDir: string): Promise<StackInfo> {
  const path = join(dataDir, fileName);
  let info: StackInfo;
  try {
    info = JSON.parse(await readFile(path, "utf8")) as StackInfo;
  } catch {
    throw new Error(
      `No running local stack found (${path} is missing). Start it with \`npm start\`.`,
    );
  }
  try {
    process.kill(info.pid, 0);
  } catch {
    throw new Error(
      `The local stack that wrote ${path} (pid ${info.pid}) is not running. Start it with \`npm start\`.`,
    );
  }
  if (typeof info.dynamodbAccessKeyId !== "string") {
    throw new Error(`${path} names no store access key: restart the local stack.`);
  }
  return info;
}
