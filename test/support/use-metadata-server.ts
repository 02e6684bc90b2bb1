/**
 * For a jest file or describe block: the metadata-server stand-in, started and installed before its tests
 * (google-auth-library's ADC then mints tokens from it) and stopped after them.
 */
import {
  FakeMetadataServer,
  type FakeMetadataServerOptions,
} from './metadata-server';

/** Returns a getter for the running stand-in. */
export function useFakeMetadataServer(
  options: FakeMetadataServerOptions = {projectId: 'demo-opwatch'},
): () => FakeMetadataServer {
  let server: FakeMetadataServer | undefined;
  let uninstall: () => void = () => {};
  beforeAll(async () => {
    server = await FakeMetadataServer.start(options);
    uninstall = server.install();
  });
  afterAll(async () => {
    uninstall();
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('the metadata stand-in is not running');
    return server;
  };
}
