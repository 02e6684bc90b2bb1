/**
 * A stored registration this version cannot read never makes the registration API answer 5xx: its owner is told
 * why (409, documented), anyone else finds nothing (404), a list leaves it out and names it, and registering the
 * operation again starts a new watch in its place. The real `operations` function on the Firestore emulator.
 */
import {Firestore} from '@google-cloud/firestore';
import {getTestServer} from '@google-cloud/functions-framework/testing';
import type {Server} from 'node:http';
import request from 'supertest';
import {OpenApiValidator} from '../../support/openapi-validator';

const collection = `unreadable-${process.pid}-${Date.now()}`;
process.env.OPERATIONS_COLLECTION = collection;
process.env.DEFAULT_TOPIC = 'opwatch-notifications';
process.env.ENDPOINT_OVERRIDES = '';
process.env.ALLOW_UNAUTHENTICATED = 'true';
process.env.WATCH_PROJECTS = '*';

require('../../../functions/index');

const OPERATION =
  'https://firestore.googleapis.com/v1/projects/p/databases/(default)/operations';
const validator = new OpenApiValidator();
const firestore = new Firestore({projectId: process.env.GOOGLE_CLOUD_PROJECT});
let server: Server;

beforeAll(() => {
  server = getTestServer('operations');
});

afterAll(() => firestore.terminate());

/** Registers an operation and breaks its stored document with `fields`; returns its id. */
async function broken(name: string, fields: Record<string, unknown>) {
  const answer = await request(server)
    .post('/operations')
    .send({operation: `${OPERATION}/${name}`})
    .expect(201);
  await firestore.collection(collection).doc(answer.body.id).update(fields);
  return answer.body.id as string;
}

it("its owner's GET and DELETE answer 409 naming the fields at fault, documented", async () => {
  const id = await broken('get-me', {labels: 'team=data'});
  for (const method of ['get', 'delete'] as const) {
    const answer = await request(server)[method](`/operations/${id}`);
    validator.assertResponse('/operations/{id}', method, answer);
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatchObject({
      status: 'FAILED_PRECONDITION',
      message: expect.stringContaining('labels'),
    });
  }
});

it("another owner's answers 404, as if it did not exist", async () => {
  const id = await broken('not-yours', {
    owner: 'someone@example.com',
    labels: 7,
  });
  const answer = await request(server).get(`/operations/${id}`);
  expect(answer.status).toBe(404);
  expect(JSON.stringify(answer.body)).not.toContain('labels');
});

it('a list leaves it out and names it, and answers the rest', async () => {
  const readable = await request(server)
    .post('/operations')
    .send({operation: `${OPERATION}/readable`})
    .expect(201);
  const id = await broken('listed', {createdAt: 'yesterday'});
  const answer = await request(server).get('/operations?pageSize=100');
  validator.assertResponse('/operations', 'get', answer);
  expect(answer.status).toBe(200);
  const ids = answer.body.registrations.map((r: {id: string}) => r.id);
  expect(ids).toContain(readable.body.id);
  expect(ids).not.toContain(id);
  expect(answer.body.unreadable).toContainEqual({
    id,
    problem: expect.stringContaining('createdAt'),
  });
});

it('registering the operation again starts a new watch in its place', async () => {
  const id = await broken('again', {attempts: 'three'});
  const answer = await request(server)
    .post('/operations')
    .send({operation: `${OPERATION}/again`});
  validator.assertResponse('/operations', 'post', answer);
  expect(answer.status).toBe(201);
  expect(answer.body).toMatchObject({
    id,
    state: 'pending',
    attempts: 0,
    previous: {
      state: 'poll_error',
      lastError: {
        kind: 'corrupt',
        message: expect.stringContaining('attempts'),
      },
    },
  });
  await request(server).get(`/operations/${id}`).expect(200);
});
