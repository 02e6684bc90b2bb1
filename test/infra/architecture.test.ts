/**
 * docs/architecture.md draws the rooms of functions/ and the one direction of their arrows; the lint holds the
 * code to the layers of .dependency-cruiser.cjs. These tests keep the drawing and the rules the same, and check
 * that the rules do forbid what the drawing says they forbid.
 */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';

const ROOT = join(__dirname, '..', '..');

interface Rule {
  name: string;
  to: {pathNot?: string[]};
}

/** The rooms each room may import besides itself, as the lint's layer rules allow them. */
function allowedByLint(): Map<string, Set<string>> {
  const config = require(join(ROOT, '.dependency-cruiser.cjs')) as {
    forbidden: Rule[];
  };
  const allowed = new Map<string, Set<string>>();
  for (const rule of config.forbidden) {
    const room = /^layer-(.+)$/.exec(rule.name)?.[1];
    if (!room) continue;
    const rooms = (rule.to.pathNot ?? []).map(
      path => /^\^functions\/([a-z-]+)\/$/.exec(path)![1],
    );
    allowed.set(room, new Set(rooms.filter(other => other !== room)));
  }
  return allowed;
}

/** The arrows that are not implied by others: X → Y unless X reaches Y through some Z it may import. */
function directArrows(allowed: Map<string, Set<string>>): string[] {
  const arrows: string[] = [];
  for (const [room, rooms] of allowed) {
    for (const target of rooms) {
      const through = [...rooms].some(
        middle => middle !== target && allowed.get(middle)?.has(target),
      );
      if (!through) arrows.push(`${room} --> ${target}`);
    }
  }
  return arrows.sort();
}

/** The arrows of the diagram in docs/architecture.md. */
function drawnArrows(): string[] {
  const doc = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
  const diagram = /```mermaid\n([\s\S]*?)```/.exec(doc)![1];
  return diagram
    .split('\n')
    .map(line => line.trim())
    .filter(line => line.includes('-->'))
    .sort();
}

test('the diagram of docs/architecture.md is exactly the layers the lint enforces', () => {
  const allowed = allowedByLint();
  expect(allowed.size).toBeGreaterThanOrEqual(9);
  expect(drawnArrows()).toEqual(directArrows(allowed));
});

test('the lint allows no room to import a room that may import it: every arrow runs one way', () => {
  const allowed = allowedByLint();
  for (const [room, rooms] of allowed) {
    for (const other of rooms)
      expect(allowed.get(other)?.has(room)).toBe(false);
  }
});

test('core imports no other room, and every room below targets/ stays below it', () => {
  const allowed = allowedByLint();
  expect([...allowed.get('core')!]).toEqual([]);
  for (const [room, rooms] of allowed) {
    if (room !== 'targets') expect(rooms.has('targets')).toBe(false);
  }
});

test('every folder of functions/ is a room the lint knows', () => {
  const {readdirSync} = require('node:fs') as typeof import('node:fs');
  const folders = readdirSync(join(ROOT, 'functions'), {withFileTypes: true})
    .filter(entry => entry.isDirectory())
    .map(entry => entry.name)
    .sort();
  expect(folders).toEqual([...allowedByLint().keys()].sort());
});
