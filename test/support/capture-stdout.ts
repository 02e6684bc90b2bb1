/** The structured log lines a function writes to stdout in this process, as Cloud Logging would read them. */

/** Runs `action` and returns every JSON line written to stdout meanwhile. */
export async function captureStdout(
  action: () => Promise<unknown>,
): Promise<Record<string, unknown>[]> {
  let text = '';
  const spy = jest
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk: string | Uint8Array) => {
      text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      return true;
    });
  try {
    await action();
  } finally {
    spy.mockRestore();
  }
  return text
    .split('\n')
    .filter(line => line.startsWith('{'))
    .map(line => JSON.parse(line) as Record<string, unknown>);
}
