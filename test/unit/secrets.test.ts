import { describe, expect, it } from "vitest";
import {
  authorizationFor,
  cachedSecretResolver,
  SECRET_ARN_PATTERN,
  SecretUnavailableError,
  tokenFromSecretString,
} from "../../src/core/secrets.ts";
import { localSecretResolver } from "../../src/local/local-secrets.ts";

const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:restate/ingress-Ab12Cd";
const TOKEN = "rst_live_0123456789abcdef";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

describe("SECRET_ARN_PATTERN", () => {
  it("accepts Secrets Manager ARNs of every partition, with or without the suffix", () => {
    for (const arn of [
      ARN,
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:token",
      "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:a/b_c+d=e.f@g-h",
      "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x",
    ]) {
      expect(arn).toMatch(SECRET_ARN_PATTERN);
    }
    for (const other of [
      TOKEN,
      "arn:aws:ssm:eu-west-1:123456789012:parameter/token",
      "arn:aws:secretsmanager:eu-west-1:12345:secret:x",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:has space",
    ]) {
      expect(other).not.toMatch(SECRET_ARN_PATTERN);
    }
  });
});

describe("tokenFromSecretString", () => {
  it("takes the whole string, or the token field of a JSON object, trimmed", () => {
    expect(tokenFromSecretString(ARN, `  ${TOKEN}\n`)).toBe(TOKEN);
    expect(tokenFromSecretString(ARN, JSON.stringify({ token: TOKEN, note: "x" }))).toBe(TOKEN);
  });

  it.each([
    ["empty", ""],
    ["spaces inside", `Bearer ${TOKEN}`],
    ["a line break", `${TOKEN}\r\nx-injected: 1`],
    ["non-ASCII", `${TOKEN}é`],
    ["JSON without token", JSON.stringify({ value: TOKEN })],
    ["JSON with a non-string token", JSON.stringify({ token: 42 })],
    ["broken JSON", `{"token": "${TOKEN}"`],
  ])("refuses %s, naming the ARN and never the value", (_, secret) => {
    let caught: unknown;
    try {
      tokenFromSecretString(ARN, secret);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SecretUnavailableError);
    const error = caught as SecretUnavailableError;
    expect(error.secretRef).toBe(ARN);
    expect(error.message).toContain(ARN);
    expect(error.message).not.toContain(TOKEN);
  });
});

describe("cachedSecretResolver", () => {
  it("fetches once per TTL per secret, then again after it expires", async () => {
    let clock = 0;
    const fetched: string[] = [];
    const resolver = cachedSecretResolver(
      async (ref) => {
        fetched.push(ref);
        return `${ref}#${fetched.length}`;
      },
      { ttlMs: 1_000, now: () => clock },
    );
    expect(await resolver.resolve("a")).toBe("a#1");
    clock = 999;
    expect(await resolver.resolve("a")).toBe("a#1");
    expect(await resolver.resolve("b")).toBe("b#2");
    clock = 1_000;
    expect(await resolver.resolve("a")).toBe("a#3");
    expect(fetched).toEqual(["a", "b", "a"]);
  });

  it("forgets a value the sink rejected, so the next resolve reads the secret again", async () => {
    let fetches = 0;
    const resolver = cachedSecretResolver(async () => `token-${++fetches}`, { ttlMs: 60_000 });
    expect(await resolver.resolve("a")).toBe("token-1");
    expect(await resolver.resolve("a")).toBe("token-1");
    resolver.forget?.("a");
    expect(await resolver.resolve("a")).toBe("token-2");
  });

  it("shares one fetch between concurrent callers", async () => {
    const pending = deferred<string>();
    let calls = 0;
    const resolver = cachedSecretResolver(
      () => {
        calls++;
        return pending.promise;
      },
      { ttlMs: 60_000 },
    );
    const all = Promise.all([resolver.resolve(ARN), resolver.resolve(ARN), resolver.resolve(ARN)]);
    pending.resolve(TOKEN);
    expect(await all).toEqual([TOKEN, TOKEN, TOKEN]);
    expect(await resolver.resolve(ARN)).toBe(TOKEN);
    expect(calls).toBe(1);
  });

  it("does not cache failures: every waiter sees the error, the next call fetches again", async () => {
    let calls = 0;
    const resolver = cachedSecretResolver(
      async (ref) => {
        calls++;
        if (calls === 1) throw new SecretUnavailableError(ref, `cannot read secret ${ref}`);
        return TOKEN;
      },
      { ttlMs: 60_000 },
    );
    const results = await Promise.allSettled([resolver.resolve(ARN), resolver.resolve(ARN)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await resolver.resolve(ARN)).toBe(TOKEN);
    expect(calls).toBe(2);
  });

  it("a synchronous throw in fetch becomes a rejection", async () => {
    const resolver = cachedSecretResolver(
      () => {
        throw new Error("boom");
      },
      { ttlMs: 0 },
    );
    await expect(resolver.resolve(ARN)).rejects.toThrow("boom");
  });

  it("TTL 0 fetches every time", async () => {
    let calls = 0;
    const resolver = cachedSecretResolver(async () => `t${++calls}`, { ttlMs: 0 });
    expect(await resolver.resolve(ARN)).toBe("t1");
    expect(await resolver.resolve(ARN)).toBe("t2");
  });
});

describe("authorizationFor", () => {
  it("is undefined without auth, Bearer <token> with it, and fails clearly without a resolver", async () => {
    const secrets = { resolve: async () => TOKEN };
    expect(await authorizationFor(undefined, secrets)).toBeUndefined();
    expect(await authorizationFor({ bearer_token_secret: ARN }, secrets)).toBe(`Bearer ${TOKEN}`);
    await expect(authorizationFor({ bearer_token_secret: ARN }, undefined)).rejects.toThrow(
      `secret ${ARN} cannot be read`,
    );
  });
});

describe("localSecretResolver (LOCAL_SECRETS)", () => {
  it("resolves ARNs from the JSON map, plain or {token}", async () => {
    const other = `${ARN}-2`;
    const resolver = localSecretResolver({
      LOCAL_SECRETS: JSON.stringify({ [ARN]: TOKEN, [other]: JSON.stringify({ token: "t2" }) }),
    });
    expect(await resolver.resolve(ARN)).toBe(TOKEN);
    expect(await resolver.resolve(other)).toBe("t2");
  });

  it("fails clearly for a missing ARN, and at start for a malformed map, never echoing it", async () => {
    const empty = localSecretResolver({});
    await expect(empty.resolve(ARN)).rejects.toThrow(`secret ${ARN} is not in LOCAL_SECRETS`);
    for (const bad of [`{"${ARN}": "${TOKEN}"`, `["${TOKEN}"]`, `{"${ARN}": 1}`]) {
      let message = "";
      try {
        localSecretResolver({ LOCAL_SECRETS: bad });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/^LOCAL_SECRETS must be a JSON object/);
      expect(message).not.toContain(TOKEN);
    }
  });
});
