/**
 * How the CLI authenticates: no token for the local stack, OPWATCH_ID_TOKEN when set, else a Google ID token for
 * the endpoint URL from Application Default Credentials (here the metadata-server stand-in).
 */
import {createAuthorizer, isLocalEndpoint} from '../../cli/auth';
import {useFakeMetadataServer} from '../support/use-metadata-server';

describe('isLocalEndpoint', () => {
  it.each([
    ['http://localhost:8080', true],
    ['http://127.0.0.1:8080/', true],
    ['http://[::1]:8080', true],
    ['https://localhost:8080', false],
    ['http://localhost.example.com', false],
    ['http://10.0.0.1:8080', false],
    ['https://opwatch-operations-abc-uc.a.run.app', false],
  ])('%s: %s', (url, local) => {
    expect(isLocalEndpoint(new URL(url))).toBe(local);
  });
});

describe('createAuthorizer', () => {
  const metadata = useFakeMetadataServer();

  it('sends nothing to the local stack, and asks for no token', async () => {
    const authorize = createAuthorizer(new URL('http://localhost:8080'), {});
    await expect(authorize()).resolves.toBeUndefined();
    expect(metadata().identityRequests).toEqual([]);
  });

  it('uses OPWATCH_ID_TOKEN when set, for any endpoint', async () => {
    const authorize = createAuthorizer(
      new URL('https://opwatch-operations-abc-uc.a.run.app'),
      {OPWATCH_ID_TOKEN: ' eyJhbGciOi.token \n'},
    );
    await expect(authorize()).resolves.toBe('Bearer eyJhbGciOi.token');
  });

  it('mints an ID token whose audience is the endpoint URL, once', async () => {
    const endpoint =
      'https://us-central1-my-proj.cloudfunctions.net/opwatch-operations';
    const authorize = createAuthorizer(new URL(`${endpoint}/`), {});

    const header = await authorize();
    await authorize();

    expect(metadata().identityRequests).toHaveLength(1);
    const [minted] = metadata().identityRequests;
    expect(minted.audience).toBe(endpoint);
    expect(header).toBe(`Bearer ${minted.token}`);
  });
});
