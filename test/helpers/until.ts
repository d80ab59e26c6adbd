// Polls a condition until it holds, or fails naming what it waited for.
export function waitUntil(options: { timeoutMs: number; pollMs: number }) {
  return async (what: string, check: () => boolean, timeoutMs = options.timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, options.pollMs));
    }
  };
}
